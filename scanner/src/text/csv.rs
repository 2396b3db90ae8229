//! CSV fields for French Excel (`;`, always quoted, decimal comma), with the guard against
//! formula injection: used by the stick's index `SCANS.CSV` and `scanner report --format csv`.

/// One CSV field, always quoted, `"` doubled, line breaks flattened.
pub fn csv_field(s: &str) -> String {
    let mut s: String = s
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    // Names read from host disks (a registry hive's computer name, a file path) must not become
    // spreadsheet formulas: Excel and LibreOffice evaluate `=`, `+`, `-`, `@` even in quotes.
    if s.starts_with(['=', '+', '-', '@', '\t']) {
        s.insert(0, '\'');
    }
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A CSV line (`;`, CRLF).
pub fn csv_line<S: AsRef<str>>(fields: &[S]) -> String {
    let mut l = fields
        .iter()
        .map(|f| csv_field(f.as_ref()))
        .collect::<Vec<_>>()
        .join(";");
    l.push_str("\r\n");
    l
}

/// Seconds with a decimal comma (French Excel).
pub fn decimal_comma(x: f64) -> String {
    format!("{x:.1}").replace('.', ",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting_and_decimal_comma() {
        assert_eq!(
            csv_line(&["a;b", "say \"hi\"", "x\r\ny"]),
            "\"a;b\";\"say \"\"hi\"\"\";\"x  y\"\r\n"
        );
        assert_eq!(decimal_comma(12.34), "12,3");
        // A computer name from a hostile hive must not become a formula in Excel.
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\";\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\";\"\"y\"\")\""
        );
        assert_eq!(csv_field("-1"), "\"'-1\"");
        assert_eq!(csv_field("PC-01"), "\"PC-01\"");
    }
}
