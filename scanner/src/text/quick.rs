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
}
