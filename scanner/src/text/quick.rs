//! The quick scan's sentences (issue 14), shared by the console UI and the human report: its
//! verdict with nothing found is never the full scan's "clean", and always says what was and
//! was not read.

use super::Lang;
use crate::record::SummaryRecord;

/// The verdict line of a quick scan that found nothing.
pub fn verdict(lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => "analyse rapide : aucune menace dans les zones à risque",
        Lang::En => "quick scan: no threat in the high-risk areas",
    }
}

/// What a quick scan read and did not read.
pub fn counts(lang: Lang, s: &SummaryRecord) -> String {
    match lang {
        Lang::Fr => format!(
            "{} fichiers lus (zones à risque, démarrage automatique), {} non lus (hors zones \
             à risque ou contenu non exécutable) : ce n'est pas une analyse complète",
            s.files, s.not_selected
        ),
        Lang::En => format!(
            "{} files read (high-risk areas, autostart), {} not read (outside the high-risk \
             areas or not executable content): this is not a full scan",
            s.files, s.not_selected
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_in_both_languages() {
        let mut s = SummaryRecord::nothing_scanned();
        s.files = 12;
        s.not_selected = 3400;
        assert!(counts(Lang::Fr, &s).starts_with("12 fichiers lus"));
        assert!(counts(Lang::En, &s).contains("3400 not read"));
        assert!(verdict(Lang::Fr).contains("zones à risque"));
    }

    /// The human report on the log partition says the quick verdict, never the full clean.
    #[test]
    fn the_human_report_says_quick() {
        use crate::record::{HostRecord, Record, ScanMode, Verdict};
        let mut s = SummaryRecord::nothing_scanned();
        (s.verdict, s.errors, s.files, s.scanned) = (Verdict::Clean, 0, 5, 5);
        s.mode = ScanMode::Quick;
        s.not_selected = 99;
        let lines = vec![Record::Summary(s.clone()).to_json_line()];
        let r = crate::init::logpart::human_report(&HostRecord::default(), &lines);
        assert!(
            r.contains(verdict(Lang::Fr)) && r.contains(verdict(Lang::En)),
            "{r}"
        );
        assert!(r.contains("99 not read") && r.contains("99 non lus"), "{r}");
        assert!(
            !r.contains("CLEAN: no threat found, every file scanned"),
            "{r}"
        );
        s.mode = ScanMode::Full;
        let lines = vec![Record::Summary(s).to_json_line()];
        let r = crate::init::logpart::human_report(&HostRecord::default(), &lines);
        assert!(
            r.contains("CLEAN: no threat found, every file scanned"),
            "{r}"
        );
        assert!(!r.contains(verdict(Lang::En)), "{r}");
    }
}
