p='/work/wt/uirec/scanner/src/record/finding.rs'; s=open(p).read()
old='''    /// `path`, then `:stream` and `//member` when present: one string for people and CSV.
    pub fn location(&self) -> String {
        let mut s = self.path.clone();
        if let Some(st) = self.stream.as_deref().filter(|st| !st.is_empty()) {
            s.push(':');
            s.push_str(st);
        }
        if let Some(m) = &self.member {
            s.push_str("//");
            s.push_str(m);
        }
        s
    }'''
new='''    /// `path`, then `:stream` and `//member` when present: one string for people and CSV.
    pub fn location(&self) -> String {
        location(&self.path, self.stream.as_deref(), self.member.as_deref())
    }'''
assert old in s; s=s.replace(old,new,1)
s=s.rstrip('\n')+'''

/// `path`, then `:stream` (an NTFS alternate data stream; an empty name is the main content)
/// and `//member` (inside a container) when present: where a finding, or the scan, is.
pub fn location(path: &str, stream: Option<&str>, member: Option<&str>) -> String {
    let mut s = path.to_string();
    if let Some(st) = stream.filter(|st| !st.is_empty()) {
        s.push(':');
        s.push_str(st);
    }
    if let Some(m) = member {
        s.push_str("//");
        s.push_str(m);
    }
    s
}
'''
open(p,'w').write(s)
p='/work/wt/uirec/scanner/src/record/mod.rs'; s=open(p).read()
s=s.replace("pub use finding::{FindingKind, FindingRecord};","pub use finding::{location, FindingKind, FindingRecord};",1)
open(p,'w').write(s)
