//! Every word the console UI shows, in French (the default: most operators are French) and
//! English. One struct per language so that a missing translation does not compile.
//!
//! Only characters the Linux console font shows (CP437 map): lower-case accented letters and
//! `É` are fine; `À`, `È`, `…`, typographic quotes are not.

pub use crate::text::Lang;

impl Lang {
    /// The strings of this language.
    pub fn t(self) -> &'static Strings {
        match self {
            Self::Fr => &FR,
            Self::En => &EN,
        }
    }
}

/// The UI's words for one language.
#[allow(missing_docs)]
pub struct Strings {
    pub lang_name: &'static str,
    pub app: &'static str,
    pub welcome: &'static str,
    pub machine: &'static str,
    pub options: &'static str,
    pub progress: &'static str,
    pub verdict: &'static str,
    pub details: &'static str,
    pub end: &'static str,
    pub crash: &'static str,
    pub tagline: &'static str,
    pub language: &'static str,
    pub keyboard: &'static str,
    /// Welcome screen, resume after a cut (issue 14): the row's label, its two choices and
    /// the detail line (`{done}`, `{total}`, `{date}` replaced).
    pub resume_label: &'static str,
    pub resume_yes: &'static str,
    pub resume_no: &'static str,
    pub resume_detail: &'static str,
    pub layout_fr: &'static str,
    pub layout_us: &'static str,
    pub rules: &'static str,
    pub rules_loading: &'static str,
    pub rules_failed: &'static str,
    pub rules_count: &'static str,
    pub rules_date: &'static str,
    pub rules_date_unknown: &'static str,
    pub days_old: &'static str,
    pub rules_old: &'static str,
    pub read_only: &'static str,
    pub keys_welcome: &'static str,
    pub probing: &'static str,
    pub no_disk: &'static str,
    pub disk: &'static str,
    pub bus: &'static str,
    pub serial: &'static str,
    pub unknown_model: &'static str,
    pub no_volume: &'static str,
    pub kind_windows: &'static str,
    pub kind_linux: &'static str,
    pub kind_efi: &'static str,
    pub kind_data: &'static str,
    pub kind_encrypted: &'static str,
    pub kind_unsupported: &'static str,
    pub kind_unreadable: &'static str,
    pub kind_empty: &'static str,
    pub kind_ms_reserved: &'static str,
    pub kind_no_fs: &'static str,
    pub warn_encrypted: &'static str,
    pub warn_unsupported: &'static str,
    pub warn_unreadable: &'static str,
    pub warn_not_protected: &'static str,
    pub warn_controller: &'static str,
    pub warn_controller_hint: &'static str,
    pub keys_machine: &'static str,
    pub full_scan: &'static str,
    /// Issue 14: the kind of scan, the quick verdict, the duration estimates.
    pub scan_kind: &'static str,
    pub kind_full: &'static str,
    pub kind_quick: &'static str,
    pub kind_quick_hint: &'static str,
    pub estimate: &'static str,
    pub estimate_unknown: &'static str,
    pub banner_quick: &'static str,
    pub quick_sub: &'static str,
    pub allocated: &'static str,
    pub choose_disks: &'static str,
    pub scan_what: &'static str,
    pub asset_tag: &'static str,
    pub asset_tag_hint: &'static str,
    pub start: &'static str,
    pub none_selected: &'static str,
    pub keys_options: &'static str,
    pub overall: &'static str,
    pub volume: &'static str,
    pub files: &'static str,
    pub speed: &'static str,
    pub elapsed: &'static str,
    pub time_left: &'static str,
    pub current: &'static str,
    pub findings: &'static str,
    pub skipped: &'static str,
    pub starting: &'static str,
    pub confirm_cancel: &'static str,
    pub cancelling: &'static str,
    pub keys_progress: &'static str,
    pub verdict_infected: &'static str,
    pub banner_infected: &'static str,
    pub banner_clean: &'static str,
    pub banner_incomplete: &'static str,
    pub verdict_clean: &'static str,
    pub verdict_incomplete: &'static str,
    pub infected_sub: &'static str,
    pub clean_sub: &'static str,
    pub incomplete_sub: &'static str,
    pub not_scanned: &'static str,
    pub disk_not_selected: &'static str,
    pub cancelled: &'static str,
    pub files_skipped: &'static str,
    pub files_errors: &'static str,
    pub and_more: &'static str,
    pub keys_verdict: &'static str,
    pub tab_findings: &'static str,
    pub tab_skipped: &'static str,
    pub tab_volumes: &'static str,
    pub nothing: &'static str,
    pub keys_details: &'static str,
    pub saving: &'static str,
    pub saved_to: &'static str,
    pub save_failed: &'static str,
    pub remove_stick: &'static str,
    pub keys_end: &'static str,
    pub crash_title: &'static str,
    pub crash_body: &'static str,
    pub crash_record: &'static str,
    pub status_scanned: &'static str,
    pub status_partial: &'static str,
    pub status_encrypted: &'static str,
    pub status_unsupported: &'static str,
    pub status_error: &'static str,
    pub size_units: [&'static str; 5],
    pub decimal: char,
}

/// Français.
pub static FR: Strings = Strings {
    lang_name: "Français",
    app: "Vigie",
    welcome: "Bienvenue",
    machine: "Cette machine",
    options: "Options de l'analyse",
    progress: "Analyse en cours",
    verdict: "Résultat",
    details: "Détails",
    end: "Fin",
    crash: "Incident",
    tagline: "Analyse antivirus en lecture seule des disques de ce poste",
    language: "Langue",
    keyboard: "Clavier",
    resume_label: "Reprise",
    resume_yes: "Reprendre l'analyse interrompue",
    resume_no: "Nouvelle analyse",
    resume_detail: "{done} volume(s) sur {total} déjà analysé(s), commencée le {date}",
    layout_fr: "AZERTY (français)",
    layout_us: "QWERTY (US)",
    rules: "Règles de détection",
    rules_loading: "chargement des règles...",
    rules_failed: "les règles n'ont pas pu être chargées",
    rules_count: "règles",
    rules_date: "date",
    rules_date_unknown: "date inconnue",
    days_old: "jours",
    rules_old: "ATTENTION : règles anciennes, mettez la clé à jour",
    read_only: "Rien n'est jamais écrit sur les disques de ce poste.",
    keys_welcome: "Haut/Bas choisir  Gauche/Droite changer  Entrée continuer",
    probing: "lecture des disques...",
    no_disk: "Aucun disque à analyser n'a été trouvé.",
    disk: "Disque",
    bus: "bus",
    serial: "n° de série",
    unknown_model: "modèle inconnu",
    no_volume: "aucun volume reconnu",
    kind_windows: "système Windows",
    kind_linux: "système Linux",
    kind_efi: "démarrage EFI",
    kind_data: "données",
    kind_encrypted: "chiffré",
    kind_unsupported: "non pris en charge",
    kind_unreadable: "illisible",
    kind_empty: "vide ou réservé",
    kind_ms_reserved: "réservée Microsoft (MSR)",
    kind_no_fs: "aucun format reconnu",
    warn_encrypted: "chiffré (BitLocker/LUKS) : ne sera pas analysé",
    warn_unsupported: "format non pris en charge : ne sera pas analysé",
    warn_unreadable: "illisible : ne sera pas analysé",
    warn_not_protected: "n'a pas pu être protégé en écriture : ne sera pas lu",
    warn_controller: "contrôleur de stockage sans pilote",
    warn_controller_hint: "des disques derrière lui peuvent être invisibles (Intel RST/VMD)",
    keys_machine: "Haut/Bas défiler  Entrée continuer  Échap retour",
    full_scan: "Analyse complète (tous les disques)",
    scan_kind: "Type d'analyse",
    kind_full: "Complète : tous les fichiers",
    kind_quick: "Rapide : zones à risque",
    kind_quick_hint: "démarrage automatique, profils, ProgramData, Temp, racines, clés USB",
    estimate: "Durée estimée :",
    estimate_unknown: "inconnue",
    banner_quick: "RAPIDE",
    quick_sub: "Lu : démarrage automatique, profils, ProgramData, Temp, racines, clés USB.",
    allocated: "occupés",
    choose_disks: "Choisir les disques",
    scan_what: "Que faut-il analyser ?",
    asset_tag: "N° d'inventaire / nom du poste",
    asset_tag_hint: "facultatif, enregistré avec le résultat",
    start: "Lancer l'analyse",
    none_selected: "Choisissez au moins un disque.",
    keys_options: "Haut/Bas choisir  Gauche/Droite/Entrée changer  Échap retour",
    overall: "Ensemble",
    volume: "Volume",
    files: "fichiers",
    speed: "Débit",
    elapsed: "Écoulé",
    time_left: "Reste (estimation)",
    current: "Fichier",
    findings: "Menaces",
    skipped: "Non analysés",
    starting: "démarrage...",
    confirm_cancel: "Arrêter l'analyse ? Entrée : oui, Échap : non",
    cancelling: "arrêt en cours...",
    keys_progress: "Échap arrêter l'analyse",
    verdict_infected: "MENACE DÉTECTÉE",
    banner_infected: "ALERTE",
    banner_clean: "OK",
    banner_incomplete: "INCOMPLET",
    verdict_clean: "AUCUNE MENACE",
    verdict_incomplete: "ANALYSE INCOMPLETE",
    infected_sub: "Ne pas remettre ce poste sur le réseau. Prévenez la sécurité informatique.",
    clean_sub: "Tous les fichiers de tous les disques ont été analysés.",
    incomplete_sub: "Aucune menace trouvée, mais tout n'a pas pu être analysé :",
    not_scanned: "non analysé",
    disk_not_selected: "non sélectionné",
    cancelled: "analyse arrêtée avant la fin",
    files_skipped: "fichiers non analysés",
    files_errors: "fichiers illisibles",
    and_more: "et d'autres",
    keys_verdict: "D détails  Entrée terminer",
    tab_findings: "Menaces",
    tab_skipped: "Non analysés",
    tab_volumes: "Volumes",
    nothing: "(rien)",
    keys_details: "Gauche/Droite onglet  Haut/Bas défiler  Échap retour",
    saving: "enregistrement du compte rendu...",
    saved_to: "Compte rendu enregistré sur la clé :",
    save_failed: "Le compte rendu n'a PAS pu être enregistré :",
    remove_stick: "Retirez la clé, puis appuyez sur Entrée pour éteindre.",
    keys_end: "Entrée éteindre  Échap retour au résultat",
    crash_title: "L'ANALYSE S'EST ARRETEE BRUTALEMENT",
    crash_body: "Le programme d'analyse a planté. Le poste n'a PAS été entièrement analysé.",
    crash_record: "Incident enregistré sur la clé :",
    status_scanned: "analysé",
    status_partial: "partiel",
    status_encrypted: "chiffré",
    status_unsupported: "non pris en charge",
    status_error: "erreur",
    size_units: ["o", "Ko", "Mo", "Go", "To"],
    decimal: ',',
};

/// English.
pub static EN: Strings = Strings {
    lang_name: "English",
    app: "Vigie",
    welcome: "Welcome",
    machine: "This machine",
    options: "Scan options",
    progress: "Scanning",
    verdict: "Result",
    details: "Details",
    end: "Finished",
    crash: "Incident",
    tagline: "Read-only malware scan of this workstation's disks",
    language: "Language",
    keyboard: "Keyboard",
    resume_label: "Resume",
    resume_yes: "Resume the interrupted scan",
    resume_no: "New scan",
    resume_detail: "{done} of {total} volumes already scanned, started {date}",
    layout_fr: "AZERTY (French)",
    layout_us: "QWERTY (US)",
    rules: "Detection rules",
    rules_loading: "loading the rules...",
    rules_failed: "the rules could not be loaded",
    rules_count: "rules",
    rules_date: "date",
    rules_date_unknown: "date unknown",
    days_old: "days",
    rules_old: "WARNING: old rules, update the stick",
    read_only: "Nothing is ever written to this workstation's disks.",
    keys_welcome: "Up/Down choose  Left/Right change  Enter continue",
    probing: "reading the disks...",
    no_disk: "No disk to scan was found.",
    disk: "Disk",
    bus: "bus",
    serial: "serial",
    unknown_model: "unknown model",
    no_volume: "no volume recognised",
    kind_windows: "Windows system",
    kind_linux: "Linux system",
    kind_efi: "EFI boot",
    kind_data: "data",
    kind_encrypted: "encrypted",
    kind_unsupported: "unsupported",
    kind_unreadable: "unreadable",
    kind_empty: "empty or reserved",
    kind_ms_reserved: "Microsoft reserved (MSR)",
    kind_no_fs: "no filesystem recognised",
    warn_encrypted: "encrypted (BitLocker/LUKS): will not be scanned",
    warn_unsupported: "unsupported format: will not be scanned",
    warn_unreadable: "unreadable: will not be scanned",
    warn_not_protected: "could not be write-protected: will not be read",
    warn_controller: "storage controller without a driver",
    warn_controller_hint: "disks behind it may be invisible (Intel RST/VMD)",
    keys_machine: "Up/Down scroll  Enter continue  Esc back",
    full_scan: "Full scan (every disk)",
    scan_kind: "Kind of scan",
    kind_full: "Full: every file",
    kind_quick: "Quick: high-risk areas",
    kind_quick_hint: "autostart, user profiles, ProgramData, Temp, volume roots, sticks",
    estimate: "Estimated duration:",
    estimate_unknown: "unknown",
    banner_quick: "QUICK",
    quick_sub: "Read: autostart, user profiles, ProgramData, Temp, volume roots, sticks.",
    allocated: "in use",
    choose_disks: "Choose disks",
    scan_what: "What should be scanned?",
    asset_tag: "Asset tag / device name",
    asset_tag_hint: "optional, saved with the result",
    start: "Start the scan",
    none_selected: "Choose at least one disk.",
    keys_options: "Up/Down choose  Left/Right/Enter change  Esc back",
    overall: "Overall",
    volume: "Volume",
    files: "files",
    speed: "Speed",
    elapsed: "Elapsed",
    time_left: "Left (estimate)",
    current: "File",
    findings: "Threats",
    skipped: "Not scanned",
    starting: "starting...",
    confirm_cancel: "Stop the scan? Enter: yes, Esc: no",
    cancelling: "stopping...",
    keys_progress: "Esc stop the scan",
    verdict_infected: "THREAT FOUND",
    banner_infected: "ALERT",
    banner_clean: "OK",
    banner_incomplete: "INCOMPLETE",
    verdict_clean: "NO THREAT FOUND",
    verdict_incomplete: "INCOMPLETE SCAN",
    infected_sub: "Keep this workstation off the network. Call IT security.",
    clean_sub: "Every file on every disk was scanned.",
    incomplete_sub: "No threat found, but not everything could be scanned:",
    not_scanned: "not scanned",
    disk_not_selected: "not selected",
    cancelled: "scan stopped before the end",
    files_skipped: "files not scanned",
    files_errors: "unreadable files",
    and_more: "and more",
    keys_verdict: "D details  Enter finish",
    tab_findings: "Threats",
    tab_skipped: "Not scanned",
    tab_volumes: "Volumes",
    nothing: "(none)",
    keys_details: "Left/Right tab  Up/Down scroll  Esc back",
    saving: "saving the record...",
    saved_to: "Record saved on the stick:",
    save_failed: "The record could NOT be saved:",
    remove_stick: "Remove the stick, then press Enter to power off.",
    keys_end: "Enter power off  Esc back to the result",
    crash_title: "THE SCAN STOPPED ABRUPTLY",
    crash_body: "The scan program crashed. This workstation was NOT fully scanned.",
    crash_record: "Incident saved on the stick:",
    status_scanned: "scanned",
    status_partial: "partial",
    status_encrypted: "encrypted",
    status_unsupported: "unsupported",
    status_error: "error",
    size_units: ["B", "KB", "MB", "GB", "TB"],
    decimal: '.',
};

/// `1536` -> `1,5 Ko` / `1.5 KB` (powers of 1024, one decimal above bytes).
pub fn size(lang: Lang, bytes: u64) -> String {
    let t = lang.t();
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < t.size_units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} {}", t.size_units[0])
    } else {
        format!("{v:.1} {}", t.size_units[u]).replace('.', &t.decimal.to_string())
    }
}

/// `125` -> `2 min 05 s`, `3725` -> `1 h 02 min`.
pub fn duration(secs: f64) -> String {
    let s = if secs.is_finite() && secs > 0.0 {
        secs.min(1e7) as u64
    } else {
        0
    };
    if s >= 3600 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_language() {
        assert_eq!(size(Lang::Fr, 512), "512 o");
        assert_eq!(size(Lang::Fr, 1536), "1,5 Ko");
        assert_eq!(size(Lang::En, 1536), "1.5 KB");
        assert_eq!(size(Lang::En, 64 * 1024 * 1024 * 1024), "64.0 GB");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(5.4), "5 s");
        assert_eq!(duration(125.0), "2 min 05 s");
        assert_eq!(duration(3725.0), "1 h 02 min");
        assert_eq!(duration(f64::NAN), "0 s");
    }

    #[test]
    fn strings_use_only_console_glyphs() {
        // Characters outside ASCII that the Linux console's CP437 font shows.
        const OK: &str = "éèêëàâçùûôîïüÉ°²";
        for t in [&FR, &EN] {
            let all = format!(
                "{} {} {} {} {} {} {}",
                t.welcome,
                t.verdict_infected,
                t.verdict_incomplete,
                t.crash_title,
                t.rules_old,
                t.keys_options,
                t.infected_sub
            );
            for c in all.chars() {
                assert!(
                    c.is_ascii() || OK.contains(c),
                    "{c:?} is not in the console font"
                );
            }
        }
    }
}
