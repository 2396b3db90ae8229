//! The `vigie.*` options of the kernel command line, parsed from a plain string so that tests
//! can feed it (PID 1 reads `/proc/cmdline`).

/// Options PID 1 understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmdline {
    /// `vigie.auto=1` (or bare `vigie.auto`): scan every disk without asking, then power off.
    pub auto: bool,
    /// `vigie.debug`: keep kernel messages on the console, log more.
    pub debug: bool,
    /// `vigie.settle=SECONDS`: upper bound of the wait for disks to appear (default 20).
    pub settle_secs: u64,
    /// `vigie.threads=N`: scan worker threads (0 = engine default).
    pub threads: usize,
    /// `vigie.nopoweroff`: after the scan, wait instead of powering off (debugging).
    pub no_poweroff: bool,
    /// `vigie.pseudonymise=1`: pseudonymise user paths in the records (see `privacy`).
    pub pseudonymise: bool,
    /// `vigie.site=NAME`: the site the stick belongs to (fleet report totals).
    pub site: Option<String>,
    /// `vigie.lang=fr|en`: the console UI's first language (default French).
    pub lang: crate::tui::i18n::Lang,
    /// `vigie.keymap=fr|us`: the console keyboard layout (default AZERTY).
    pub keymap: Option<crate::tui::keymap::Layout>,
    /// `vigie.console=ttyS0`: run the UI on that tty instead of `tty1` (headless, tests).
    pub console: String,
    /// `vigie.rules_max_age=DAYS`: warn on the welcome screen when the rules are older.
    pub rules_max_age_days: u64,
    /// `vigie.test.crash=scan|ui`: TEST ONLY, make the UI/scan child crash on purpose.
    pub test_crash: Option<crate::fault::Crash>,
    /// `vigie.test.save_delay_ms=N`: TEST ONLY, sleep N ms (at most 10 s) at each ordering
    /// barrier of a log partition save, so a power-cut test can hit the save window.
    pub test_save_delay_ms: u64,
    /// `vigie.test.volume_delay_ms=N`: TEST ONLY, PID 1 sleeps N ms (at most 120 s) after each
    /// checkpoint of a finished volume (issue 14), so a resume test can cut between volumes.
    pub test_volume_delay_ms: u64,
    /// `vigie.containers=0`, `vigie.max_depth=N`, `vigie.max_members=N`,
    /// `vigie.max_member_size=SIZE`, `vigie.max_expanded=SIZE`, `vigie.max_ratio=N`: looking
    /// inside files (SIZE takes K, M, G suffixes).
    pub containers: crate::container::Limits,
    /// `vigie.evidence=1`: copy the detected files into `evidence.zip` in the scan folder
    /// (issue 14); `vigie.evidence_max_file=SIZE`, `vigie.evidence_max_total=SIZE` (K, M, G)
    /// bound it (stick defaults: see `crate::evidence::Limits::stick`).
    pub evidence: Option<crate::evidence::Limits>,
    /// `vigie.mode=quick|full`: the scan offered first (interactive) or run (unattended).
    pub quick: bool,
    /// `vigie.*` words we did not understand (reported, never fatal).
    pub unknown: Vec<String>,
}

impl Default for Cmdline {
    fn default() -> Self {
        Self {
            auto: false,
            debug: false,
            settle_secs: 20,
            threads: 0,
            no_poweroff: false,
            pseudonymise: false,
            site: None,
            lang: crate::tui::i18n::Lang::Fr,
            keymap: None,
            console: "tty1".into(),
            rules_max_age_days: 90,
            test_crash: None,
            test_save_delay_ms: 0,
            test_volume_delay_ms: 0,
            containers: crate::container::Limits::builtin(),
            evidence: None,
            quick: false,
            unknown: Vec::new(),
        }
    }
}

fn truthy(v: Option<&str>) -> Option<bool> {
    match v {
        None | Some("1") | Some("yes") | Some("on") | Some("true") => Some(true),
        Some("0") | Some("no") | Some("off") | Some("false") => Some(false),
        _ => None,
    }
}

impl Cmdline {
    /// Parses a kernel command line; words not starting with `vigie.` are ignored.
    /// Double quotes group words, as the kernel does (`a="b c"`).
    pub fn parse(line: &str) -> Self {
        let mut c = Self::default();
        // Evidence limits may come before or after `vigie.evidence=1`.
        let mut evidence = false;
        let mut ev_limits = crate::evidence::Limits::stick();
        for word in split_words(line) {
            let Some(opt) = word.strip_prefix("vigie.") else {
                continue;
            };
            let (key, val) = match opt.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (opt, None),
            };
            let ok = match key {
                "auto" => truthy(val).map(|b| c.auto = b).is_some(),
                "debug" => truthy(val).map(|b| c.debug = b).is_some(),
                "nopoweroff" => truthy(val).map(|b| c.no_poweroff = b).is_some(),
                "pseudonymise" | "pseudonymize" => {
                    truthy(val).map(|b| c.pseudonymise = b).is_some()
                }
                "site" => val
                    .map(|v| v.trim().chars().take(64).collect::<String>())
                    .map(|v| c.site = (!v.is_empty()).then_some(v))
                    .is_some(),
                "settle" => val
                    .and_then(|v| v.parse().ok())
                    .map(|n: u64| c.settle_secs = n.min(600))
                    .is_some(),
                "threads" => val
                    .and_then(|v| v.parse().ok())
                    .map(|n: usize| c.threads = n.min(256))
                    .is_some(),
                "lang" => val
                    .and_then(crate::tui::i18n::Lang::parse)
                    .map(|l| c.lang = l)
                    .is_some(),
                "keymap" => val
                    .and_then(crate::tui::keymap::Layout::parse)
                    .map(|l| c.keymap = Some(l))
                    .is_some(),
                "console" => val
                    .filter(|v| crate::tui::console::tty_path(v).ends_with(v))
                    .map(|v| c.console = v.to_string())
                    .is_some(),
                "rules_max_age" => val
                    .and_then(|v| v.parse().ok())
                    .map(|n: u64| c.rules_max_age_days = n.min(36_500))
                    .is_some(),
                "test.save_delay_ms" => val
                    .and_then(|v| v.parse().ok())
                    .map(|n: u64| c.test_save_delay_ms = n.min(10_000))
                    .is_some(),
                "test.volume_delay_ms" => val
                    .and_then(|v| v.parse().ok())
                    .map(|n: u64| c.test_volume_delay_ms = n.min(120_000))
                    .is_some(),
                "test.crash" => val
                    .and_then(crate::fault::Crash::parse)
                    .map(|k| c.test_crash = Some(k))
                    .is_some(),
                "mode" => match val {
                    Some("quick") | Some("rapide") => {
                        c.quick = true;
                        true
                    }
                    Some("full") | Some("complete") => {
                        c.quick = false;
                        true
                    }
                    _ => false,
                },
                "containers" => truthy(val).map(|b| c.containers.enabled = b).is_some(),
                "max_depth" => num(val)
                    .map(|n| c.containers.max_depth = n.min(64) as u32)
                    .is_some(),
                "max_members" => num(val)
                    .map(|n| c.containers.max_members = n.max(1))
                    .is_some(),
                "max_ratio" => num(val)
                    .map(|n| c.containers.max_ratio = n.max(1))
                    .is_some(),
                "max_member_size" => size(val)
                    .map(|n| c.containers.max_member_size = n)
                    .is_some(),
                "max_expanded" => size(val).map(|n| c.containers.max_expanded = n).is_some(),
                // Evidence (issue 14).
                "evidence" => truthy(val).map(|b| evidence = b).is_some(),
                "evidence_max_file" => size(val).map(|n| ev_limits.max_file = n).is_some(),
                "evidence_max_total" => size(val).map(|n| ev_limits.max_total = n).is_some(),
                _ => false,
            };
            if !ok {
                c.unknown.push(word.clone());
            }
        }
        c.evidence = evidence.then_some(ev_limits);
        c
    }
}

fn num(v: Option<&str>) -> Option<u64> {
    v.and_then(|v| v.parse().ok())
}

fn size(v: Option<&str>) -> Option<u64> {
    v.and_then(|v| crate::cli::parse_size(v).ok())
}

fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in line.chars() {
        match ch {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vigie_options_and_ignores_others() {
        let c = Cmdline::parse(
            "BOOT_IMAGE=/vmlinuz console=ttyS0 console=tty0 vigie.auto=1 quiet vigie.debug\n",
        );
        assert!(c.auto);
        assert!(c.debug);
        assert_eq!(c.settle_secs, 20);
        assert!(c.unknown.is_empty());
        let c = Cmdline::parse("vigie.auto=0 vigie.settle=5 vigie.threads=2 vigie.nopoweroff");
        assert!(!c.auto && !c.debug && c.no_poweroff);
        assert_eq!((c.settle_secs, c.threads), (5, 2));
        assert!(Cmdline::parse("vigie.auto").auto);
        assert!(!Cmdline::parse("").auto);
    }

    #[test]
    fn scan_mode_from_the_command_line_and_the_settings_file() {
        assert!(!Cmdline::parse("").quick);
        assert!(Cmdline::parse("vigie.mode=quick").quick);
        assert!(!Cmdline::parse("vigie.mode=quick vigie.mode=full").quick);
        let c = Cmdline::parse("vigie.mode=fast");
        assert!(!c.quick);
        assert_eq!(c.unknown, ["vigie.mode=fast"]);
        assert!(crate::init::settings::merge("mode=quick\n", "").quick);
        assert!(!crate::init::settings::merge("mode=quick\n", "vigie.mode=full").quick);
    }

    #[test]
    fn reports_unknown_and_malformed() {
        let c =
            Cmdline::parse("vigie.auto=maybe vigie.frobnicate vigie.settle=x vigie.settle=99999");
        assert!(!c.auto);
        assert_eq!(
            c.unknown,
            ["vigie.auto=maybe", "vigie.frobnicate", "vigie.settle=x"]
        );
        assert_eq!(c.settle_secs, 600);
    }

    #[test]
    fn console_ui_options() {
        use crate::fault::Crash;
        use crate::tui::{i18n::Lang, keymap::Layout};
        let c = Cmdline::parse("vigie.lang=en vigie.keymap=us vigie.console=ttyS0 vigie.rules_max_age=30 vigie.test.crash=scan");
        assert_eq!((c.lang, c.keymap), (Lang::En, Some(Layout::Us)));
        assert_eq!(c.console, "ttyS0");
        assert_eq!(c.rules_max_age_days, 30);
        assert_eq!(c.test_crash, Some(Crash::Scan));
        assert!(c.unknown.is_empty());
        let d = Cmdline::parse("");
        assert_eq!(
            (d.lang, d.keymap, d.console.as_str()),
            (Lang::Fr, None, "tty1")
        );
        assert_eq!((d.rules_max_age_days, d.test_crash), (90, None));
        assert_eq!(Cmdline::default().test_save_delay_ms, 0);
        assert_eq!(
            Cmdline::parse("vigie.test.save_delay_ms=250").test_save_delay_ms,
            250
        );
        assert_eq!(
            Cmdline::parse("vigie.test.volume_delay_ms=999999").test_volume_delay_ms,
            120_000
        );
        let bad = Cmdline::parse("vigie.lang=de vigie.console=../sda vigie.test.crash=x");
        assert_eq!(bad.unknown.len(), 3);
        assert_eq!(bad.console, "tty1");
    }

    #[test]
    fn container_limits() {
        let c = Cmdline::parse(
            "vigie.max_depth=3 vigie.max_members=50 vigie.max_member_size=1G vigie.max_expanded=2G vigie.max_ratio=100",
        );
        let l = c.containers;
        assert!(l.enabled && c.unknown.is_empty());
        assert_eq!(
            (
                l.max_depth,
                l.max_members,
                l.max_member_size,
                l.max_expanded,
                l.max_ratio
            ),
            (3, 50, 1 << 30, 2 << 30, 100)
        );
        assert!(!Cmdline::parse("vigie.containers=0").containers.enabled);
        assert_eq!(Cmdline::parse("vigie.max_depth=x").unknown.len(), 1);
    }

    #[test]
    fn evidence_options() {
        use crate::evidence::Limits;
        assert_eq!(Cmdline::parse("").evidence, None);
        assert_eq!(
            Cmdline::parse("vigie.evidence=1").evidence,
            Some(Limits::stick())
        );
        let c =
            Cmdline::parse("vigie.evidence_max_file=1M vigie.evidence vigie.evidence_max_total=3M");
        assert_eq!(
            c.evidence,
            Some(Limits {
                max_file: 1 << 20,
                max_total: 3 << 20
            })
        );
        let c = Cmdline::parse("vigie.evidence=1 vigie.evidence=0 vigie.evidence_max_file=0");
        assert_eq!((c.evidence, c.unknown.len()), (None, 1));
        // The settings file's words go through the same parser.
        let c = super::super::settings::merge("evidence=1\nevidence_max_total=8M\n", "");
        assert_eq!(c.evidence.map(|l| l.max_total), Some(8 << 20));
    }

    #[test]
    fn quotes_group_words() {
        let c = Cmdline::parse("foo=\"a vigie.auto=1 b\" vigie.debug");
        assert!(!c.auto && c.debug);
    }
}
