//! Where the third-party test material lives (`../shared/oracles` beside the checkout, never
//! copied into the repository, or `$VIGIE_ORACLES`) and its compressed files unpacked once into
//! an ignored cache. The one copy: the unit tests reach it as `crate::testutil`, the end-to-end
//! tests include this very file (`tests/common`, `#[path]`), so it names nothing of the crate
//! and uses std only.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `../shared/oracles` beside the checkout, or `$VIGIE_ORACLES`.
pub fn oracles_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("VIGIE_ORACLES") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/oracles");
    assert!(
        p.is_dir(),
        "test material not found at {} (set VIGIE_ORACLES)",
        p.display()
    );
    p
}

/// Where unpacked oracles are kept (`.cache/test/oracles`, ignored), shared by every test
/// binary: the unpacking below is safe across processes as well as threads.
pub fn unpacked_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/test/oracles")
}

/// Path of an oracle file, relative to the oracles folder. A `.zst`, `.gz` or `.xz` file is
/// unpacked once (sparse) into [`unpacked_dir`] and the unpacked path is returned. Panics if it
/// is missing: a test whose material is absent must fail, not pass vacuously.
pub fn oracle(rel: &str) -> PathBuf {
    let src = oracles_dir().join(rel);
    assert!(src.exists(), "missing oracle file {}", src.display());
    let (tool, stem) = if let Some(s) = rel.strip_suffix(".zst") {
        ("zstd", s)
    } else if let Some(s) = rel.strip_suffix(".gz") {
        ("gzip", s)
    } else if let Some(s) = rel.strip_suffix(".xz") {
        ("xz", s)
    } else {
        return src;
    };
    let dst = unpacked_dir().join(stem);
    produce_once(&dst, &format!("{tool} -d {}", src.display()), |tmp| {
        unpack_sparse(&[tool, "-dc"], &src, tmp)
    });
    dst
}

/// One member of a zip oracle, unpacked once (sparse) into [`unpacked_dir`], below a folder
/// named like the zip file (an oracle path is a file or a folder, never both: no collision).
pub fn oracle_zip_member(zip_rel: &str, member: &str) -> PathBuf {
    let src = oracles_dir().join(zip_rel);
    assert!(src.exists(), "missing oracle file {}", src.display());
    let dst = unpacked_dir().join(zip_rel).join(member);
    produce_once(&dst, &format!("unzip {member}"), |tmp| {
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg("set -o pipefail; unzip -p \"$1\" \"$2\" | dd of=\"$3\" bs=1M conv=sparse status=none")
            .arg("sh")
            .arg(&src)
            .arg(member)
            .arg(tmp);
        cmd
    });
    dst
}

/// `TOOL ARGS SRC | dd of=DST` (sparse: the test images are mostly holes; `pipefail`: a failed
/// unpack is not a truncated file), paths passed as arguments, never spliced into the script.
fn unpack_sparse(tool_args: &[&str], src: &Path, dst: &Path) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg("set -o pipefail; \"$1\" \"$2\" \"$3\" | dd of=\"$4\" bs=1M conv=sparse status=none")
        .arg("sh")
        .args(tool_args)
        .arg(src)
        .arg(dst);
    cmd
}

/// Runs the command `make(tmp)` that writes a temporary file, then renames it to `dst`; does
/// nothing when `dst` exists. Tests of one binary run as threads of one process and several
/// binaries run at once: the temporary name differs per process AND per call, or two tests
/// unpacking the same oracle rename each other's file.
fn produce_once(dst: &Path, what: &str, make: impl FnOnce(&Path) -> Command) {
    if dst.exists() {
        return;
    }
    std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir oracle cache");
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dst.with_extension(format!("tmp{}-{n}", std::process::id()));
    let status = make(&tmp)
        .status()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(status.success(), "{what} failed");
    std::fs::rename(&tmp, dst).expect("rename unpacked oracle");
}
