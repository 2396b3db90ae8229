//! Tests of the persistence report on real hives (`oracles/registry-hives`, regipy's test data)
//! and on mutated copies of them.

use super::hive::{self, HiveKind};
use crate::testutil::oracle;

/// The unpacked hive (one test at a time unpacks: the cache's temporary names would clash).
fn real(name: &str) -> Vec<u8> {
    static UNPACK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let path = {
        let _g = UNPACK.lock().unwrap_or_else(|e| e.into_inner());
        oracle(&format!("registry-hives/{name}.xz"))
    };
    std::fs::read(path).unwrap()
}

#[test]
fn windows_computer_name_from_real_system_hives() {
    let clean = real("SYSTEM");
    assert!(!hive::is_dirty(&clean));
    assert_eq!(
        crate::hostinfo::windows_name(&clean).as_deref(),
        Some("WKS-WIN732BITA")
    );
    let dirty = real("SYSTEM_B");
    assert!(hive::is_dirty(&dirty));
    assert_eq!(
        crate::hostinfo::windows_name(&dirty).as_deref(),
        Some("DESKTOP-PM6C56D")
    );
}

#[test]
fn services_of_real_system_hives() {
    for name in ["SYSTEM", "SYSTEM_B"] {
        let e = hive::entries(&real(name), HiveKind::System);
        eprintln!("{name}: {} entries", e.len());
        for r in e.iter().take(5) {
            eprintln!("  {r:?}");
        }
        assert!(e.len() > 100, "{name}: {}", e.len());
        assert!(e
            .iter()
            .all(|r| r.source.starts_with("ControlSet001\\Services\\")));
        let tcpip = e
            .iter()
            .find(|r| {
                r.source
                    .eq_ignore_ascii_case("ControlSet001\\Services\\Tcpip|ImagePath")
            })
            .expect("Tcpip");
        assert!(
            tcpip
                .command
                .to_ascii_lowercase()
                .ends_with("drivers\\tcpip.sys"),
            "{tcpip:?}"
        );
        assert_eq!(tcpip.kind, "driver");
    }
}
