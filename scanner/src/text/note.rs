//! Notes with stable codes. The readers and the engine write notes as English sentences
//! (`VolumeInfo.notes`, `DiskRecord.notes`); a SIEM rule or a French screen needs more than
//! that. [`Note::classify`] recognises every sentence the code emits today and gives it a
//! stable `code` with its variable parts as `params`; anything else becomes code `other` with
//! its text. [`Note::render`] writes it back in French or English from the code and params.
//!
//! One table ([`CATALOGUE`]) holds, per code, the English template (exactly the sentence the
//! code emits, `{name}` marking a variable part) and the French one: classifying and
//! rendering use the same templates, so the English rendering of a classified note is its
//! original text (tested for every entry).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::lang::Lang;

/// A note of a record: a stable code, its parameters, and the English text it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Stable machine-readable code (`ntfs_dirty`, `file_error`, ..., `other`).
    pub code: String,
    /// The variable parts of the sentence (`path`, `error`, `sector`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// The English sentence as the record's `notes` holds it.
    pub text: String,
}

/// One kind of note: its code, the English sentence (as emitted) and the French one.
pub struct Entry {
    /// Stable code.
    pub code: &'static str,
    /// English template, `{param}` for variable parts.
    pub en: &'static str,
    /// French template, same parameters.
    pub fr: &'static str,
}

const fn e(code: &'static str, en: &'static str, fr: &'static str) -> Entry {
    Entry { code, en, fr }
}

/// Every note the readers, the partition table code and the engine emit. Order matters
/// where one template is a prefix of another: the more specific one first.
pub static CATALOGUE: &[Entry] = &[
    // fs::ntfs
    e(
        "ntfs_dirty",
        "volume is marked dirty (not cleanly unmounted): recent changes may be missing",
        "volume marqué comme non démonté proprement : des modifications récentes peuvent manquer",
    ),
    e(
        "ntfs_volume_info_unreadable",
        "$Volume information unreadable: {error}",
        "informations de $Volume illisibles : {error}",
    ),
    e(
        "ntfs_volume_info_crashed",
        "$Volume information crashed the reader: {error}",
        "la lecture de $Volume a fait planter le lecteur : {error}",
    ),
    e(
        "ntfs_mft_attribute_list",
        "$MFT has an attribute list (very large or fragmented MFT): records beyond its first extent may be unreachable",
        "la $MFT a une liste d'attributs (MFT très grande ou fragmentée) : des enregistrements au-delà de son premier fragment peuvent être inaccessibles",
    ),
    e(
        "ntfs_mft_unreadable",
        "$MFT record unreadable: {error}",
        "enregistrement de la $MFT illisible : {error}",
    ),
    e(
        "ntfs_mft_crashed",
        "$MFT record crashed the reader: {error}",
        "l'enregistrement de la $MFT a fait planter le lecteur : {error}",
    ),
    e(
        "ntfs_hibernated",
        "Windows was hibernated; files may be out of date",
        "Windows était en veille prolongée : des fichiers peuvent ne pas être à jour",
    ),
    // fs::ext4
    e(
        "journal_replayed",
        "journal replayed in memory (volume needed recovery; nothing written)",
        "journal rejoué en mémoire (le volume demandait une récupération ; rien n'a été écrit)",
    ),
    e(
        "journal_not_replayed",
        "journal not replayed: recent changes may be missing (in-memory replay failed: {error})",
        "journal non rejoué : des modifications récentes peuvent manquer (échec du rejeu en mémoire : {error})",
    ),
    e(
        "journal_not_replayed",
        "journal not replayed: recent changes may be missing",
        "journal non rejoué : des modifications récentes peuvent manquer",
    ),
    e(
        "ext4_unreached_inodes",
        "{found} in-use inodes were reached by no directory entry: found by a sweep of the inode bitmaps and scanned under /<orphan>/<inode number> ({directories} directories, holding {inside} files)",
        "{found} inodes en usage n'étaient atteints par aucune entrée de répertoire : trouvés en lisant les bitmaps d'inodes et analysés sous /<orphan>/<numéro d'inode> ({directories} répertoires, contenant {inside} fichiers)",
    ),
    e(
        "ext4_unlinked_inodes",
        "{count} in-use inodes have no link left (deleted while open): not scanned",
        "{count} inodes en usage n'ont plus aucun lien (supprimés alors qu'ouverts) : non analysés",
    ),
    e(
        "ext4_sweep_bad_groups",
        "{count} inode bitmaps could not be read: the orphan sweep skipped their groups",
        "{count} bitmaps d'inodes illisibles : la recherche d'inodes orphelins a sauté leurs groupes",
    ),
    e(
        "ext4_sweep_unreadable_inodes",
        "{count} inodes marked in use could not be read by the orphan sweep",
        "{count} inodes marqués en usage n'ont pas pu être lus par la recherche d'inodes orphelins",
    ),
    e(
        "ext4_sweep_capped",
        "more than {max} inodes were reached by no directory entry: the rest were not scanned",
        "plus de {max} inodes n'étaient atteints par aucune entrée de répertoire : les autres n'ont pas été analysés",
    ),
    // fs::fat
    e(
        "fat_fsinfo_bad",
        "FAT32 FSInfo sector has a bad signature: ignored (free-space hints only, not needed to read files)",
        "secteur FSInfo FAT32 à la signature invalide : ignoré (indications d'espace libre seulement, inutiles pour lire les fichiers)",
    ),
    e(
        "fat_dirty",
        "volume was not cleanly unmounted (dirty flag set)",
        "volume non démonté proprement (indicateur dirty levé)",
    ),
    e(
        "fat_io_errors",
        "volume reports disk I/O errors (FAT status flag)",
        "le volume signale des erreurs d'entrée/sortie du disque (indicateur d'état FAT)",
    ),
    // scan::engine, per volume
    e(
        "more_errors",
        "further errors not listed",
        "autres erreurs non listées",
    ),
    e("file_error", "error: {path}: {error}", "erreur : {path} : {error}"),
    e(
        "cancelled",
        "scan cancelled before this volume was finished",
        "analyse arrêtée avant la fin de ce volume",
    ),
    e(
        "encrypted",
        "encrypted volume: its files cannot be read without the key",
        "volume chiffré : ses fichiers ne peuvent pas être lus sans la clé",
    ),
    e(
        "swap",
        "Linux swap: not a filesystem, not scanned",
        "swap Linux : pas un système de fichiers, non analysé",
    ),
    e(
        "exfat_unsupported",
        "exFAT is not readable by this version: files not scanned",
        "exFAT n'est pas lisible par cette version : fichiers non analysés",
    ),
    e(
        "lvm",
        "LVM physical volume: logical volumes not scanned",
        "volume physique LVM : volumes logiques non analysés",
    ),
    e(
        "raid",
        "Linux RAID member: not scanned",
        "membre d'un RAID Linux : non analysé",
    ),
    e(
        "no_filesystem",
        "no filesystem (reserved or empty partition)",
        "aucun système de fichiers (partition réservée ou vide)",
    ),
    e(
        "unrecognised",
        "unrecognised content: not scanned",
        "contenu non reconnu : non analysé",
    ),
    e(
        "fs_unreadable",
        "cannot read the filesystem: {error}",
        "système de fichiers illisible : {error}",
    ),
    e(
        "reader_crashed_open",
        "filesystem reader crashed while opening: {error}",
        "le lecteur du système de fichiers a planté à l'ouverture : {error}",
    ),
    e(
        "reader_crashed_walk",
        "filesystem reader crashed, walk stopped: {error}",
        "le lecteur du système de fichiers a planté, parcours interrompu : {error}",
    ),
    e(
        "walk_stopped",
        "walk stopped: {error}",
        "parcours interrompu : {error}",
    ),
    // scan::engine, per disk
    e(
        "cannot_open",
        "cannot open: {error}",
        "ouverture impossible : {error}",
    ),
    e(
        "table_reader_crashed",
        "partition table reader crashed: {error}",
        "le lecteur de la table des partitions a planté : {error}",
    ),
    e(
        "whole_disk",
        "scanning the whole disk as one volume",
        "disque entier analysé comme un seul volume",
    ),
    // disk::table, disk::gpt
    e(
        "mbr_no_table",
        "sector 0 ends in 0x55AA but holds no valid partition table",
        "le secteur 0 se termine par 0x55AA mais ne contient pas de table des partitions valide",
    ),
    e(
        "gpt_unusable_used_mbr",
        "no usable GPT behind the protective MBR: used the other MBR entries",
        "aucune GPT utilisable derrière le MBR de protection : autres entrées du MBR utilisées",
    ),
    e(
        "partitions_overlap",
        "partitions {first} and {second} overlap",
        "les partitions {first} et {second} se chevauchent",
    ),
    e(
        "partition_past_end",
        "partition {number} starts at byte {start}, past the end of the disk ({size} bytes): it is empty here",
        "la partition {number} commence à l'octet {start}, après la fin du disque ({size} octets) : elle est vide ici",
    ),
    e(
        "partition_clipped",
        "partition {number} runs past the end of the disk: clipped from {from} to {to} bytes",
        "la partition {number} dépasse la fin du disque : ramenée de {from} à {to} octets",
    ),
    e(
        "gpt_not_found",
        "no GPT header found at sector 1 nor at the last sector (512 or 4096-byte sectors)",
        "aucun en-tête GPT au secteur 1 ni au dernier secteur (secteurs de 512 ou 4096 octets)",
    ),
    e(
        "gpt_disk_too_small",
        "disk too small to hold a GPT",
        "disque trop petit pour contenir une GPT",
    ),
    e(
        "gpt_backup_beyond_end",
        "the GPT puts its backup header at sector {sector}, but the disk ends at sector {last} (truncated image?)",
        "la GPT place son en-tête de secours au secteur {sector}, mais le disque se termine au secteur {last} (image tronquée ?)",
    ),
    e(
        "gpt_used_backup",
        "{why}: used the backup header at sector {sector}",
        "{why} : en-tête de secours du secteur {sector} utilisé",
    ),
    e(
        "sector_size_ignored",
        "ignored the reported sector size of {size} bytes and probed instead",
        "taille de secteur annoncée ({size} octets) ignorée, taille détectée à la place",
    ),
    // init: host notes and the crash screen's reason
    e(
        "scan_crashed",
        "the scan process crashed ({why}) after {records} records: this record is incomplete",
        "le processus d'analyse a planté ({why}) après {records} enregistrements : ce compte rendu est incomplet",
    ),
    e(
        "findings_not_listed",
        "{count} more findings are not listed in this record (limit {limit}); the summary counts them all",
        "{count} autres menaces ne sont pas listées dans ce compte rendu (limite {limit}) ; le résumé les compte toutes",
    ),
    e(
        "pseudonymised",
        "user paths pseudonymised (HMAC-SHA256, key in VIGIE/privacy.key)",
        "chemins des utilisateurs pseudonymisés (HMAC-SHA256, clé dans VIGIE/privacy.key)",
    ),
    e(
        "crash_signal_core",
        "killed by signal {signal} (core dumped), {records} records",
        "arrêté par le signal {signal} (image mémoire écrite), {records} enregistrements",
    ),
    e(
        "crash_signal",
        "killed by signal {signal}, {records} records",
        "arrêté par le signal {signal}, {records} enregistrements",
    ),
    e(
        "crash_exit",
        "exited with status {status}, {records} records",
        "terminé avec le code {status}, {records} enregistrements",
    ),
    e(
        "crash_wait",
        "wait failed: {error}, {records} records",
        "attente du processus impossible : {error}, {records} enregistrements",
    ),
    // init::logpart (the save ran without prepared space: a power cut could need fsck)
    e(
        "logpart_unprotected",
        "log partition: saved without power-cut protection ({reason}); run `scanner logpart prepare` on the stick at the desk",
        "partition des journaux : enregistré sans protection contre les coupures de courant ({reason}) ; lancer `scanner logpart prepare` sur la clé au poste",
    ),
];

/// The code of a note no entry recognises.
pub const OTHER: &str = "other";

enum Piece<'a> {
    Lit(&'a str),
    Var(&'a str),
}

/// Splits `a {x} b` into literal and variable pieces (a `{` without `}` is literal).
fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        if open > 0 {
            out.push(Piece::Lit(&rest[..open]));
        }
        out.push(Piece::Var(&rest[open + 1..open + close]));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Lit(rest));
    }
    out
}

/// The parameters of `text` if it has the shape of `template` (each variable part non-empty;
/// a literal after a variable is its first occurrence, the last literal ends the text).
fn matches(template: &str, text: &str) -> Option<BTreeMap<String, String>> {
    let ps = pieces(template);
    let mut params = BTreeMap::new();
    let mut pos = 0usize;
    let mut pending: Option<&str> = None;
    for (i, p) in ps.iter().enumerate() {
        let last = i + 1 == ps.len();
        match p {
            Piece::Var(name) => pending = Some(name),
            Piece::Lit(lit) => {
                let rest = text.get(pos..)?;
                let at = match (pending.is_some(), last) {
                    (false, false) => rest.starts_with(lit).then_some(0)?,
                    (false, true) => (rest == *lit).then_some(0)?,
                    (true, false) => rest.find(lit)?,
                    (true, true) => rest.strip_suffix(lit).map(str::len)?,
                };
                if let Some(name) = pending.take() {
                    if at == 0 {
                        return None;
                    }
                    params.insert(name.to_string(), rest[..at].to_string());
                }
                pos += at + lit.len();
            }
        }
    }
    match pending {
        Some(name) => {
            let rest = text.get(pos..)?;
            if rest.is_empty() {
                return None;
            }
            params.insert(name.to_string(), rest.to_string());
        }
        None if pos != text.len() => return None,
        None => {}
    }
    Some(params)
}

/// Fills `{name}` in `template` from `params` (unknown names stay as they are).
fn fill(template: &str, params: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for p in pieces(template) {
        match p {
            Piece::Lit(l) => out.push_str(l),
            Piece::Var(v) => match params.get(v) {
                Some(x) => out.push_str(x),
                None => {
                    out.push('{');
                    out.push_str(v);
                    out.push('}');
                }
            },
        }
    }
    out
}

fn same_names(template: &str, params: &BTreeMap<String, String>) -> bool {
    let names: Vec<&str> = pieces(template)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(v) => Some(v),
            Piece::Lit(_) => None,
        })
        .collect();
    names.len() == params.len() && names.iter().all(|n| params.contains_key(*n))
}

impl Note {
    /// The note of an English sentence as the code emits it.
    pub fn classify(text: &str) -> Self {
        for entry in CATALOGUE {
            if let Some(params) = matches(entry.en, text) {
                return Self {
                    code: entry.code.to_string(),
                    params,
                    text: text.to_string(),
                };
            }
        }
        Self {
            code: OTHER.to_string(),
            params: BTreeMap::new(),
            text: text.to_string(),
        }
    }

    /// The notes of a record's `notes`.
    pub fn classify_all(texts: &[String]) -> Vec<Self> {
        texts.iter().map(|t| Self::classify(t)).collect()
    }

    /// The note in words, from its code and parameters (its text when the code is unknown).
    pub fn render(&self, lang: Lang) -> String {
        CATALOGUE
            .iter()
            .find(|e| e.code == self.code && same_names(e.en, &self.params))
            .map(|e| {
                let template = match lang {
                    Lang::Fr => e.fr,
                    Lang::En => e.en,
                };
                fill(template, &self.params)
            })
            .unwrap_or_else(|| self.text.clone())
    }
}

/// A record's note text in `lang` (classify, then render).
pub fn render_text(lang: Lang, text: &str) -> String {
    Note::classify(text).render(lang)
}

/// Example parameters for an entry's template (tests, snapshots).
pub fn example(entry: &Entry) -> String {
    let mut params = BTreeMap::new();
    for p in pieces(entry.en) {
        if let Piece::Var(v) = p {
            let value = match v {
                "path" => "/Windows/System32/config/SAM".to_string(),
                "error" => "I/O error: Input/output error (os error 5)".to_string(),
                "why" => "primary GPT header CRC mismatch".to_string(),
                other => format!("{}", other.len() * 7 + 1),
            };
            params.insert(v.to_string(), value);
        }
    }
    fill(entry.en, &params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_classifies_to_its_code_and_renders_back_to_its_text() {
        for entry in CATALOGUE {
            let text = example(entry);
            let n = Note::classify(&text);
            assert_eq!(n.code, entry.code, "{text}");
            assert_eq!(n.render(Lang::En), text, "{}", entry.code);
            let fr = n.render(Lang::Fr);
            assert_ne!(fr, text, "{}: no French", entry.code);
            assert!(!fr.contains('{'), "{}: {fr}", entry.code);
            assert!(
                fr.chars()
                    .all(|c| c.is_ascii() || "éèêàâçùûôîÉ".contains(c)),
                "{fr}"
            );
        }
    }

    #[test]
    fn the_readers_sentences_are_recognised() {
        // The exact sentences the code emits, as the readers' constants build them.
        assert_eq!(Note::classify(crate::privacy::NOTE).code, "pseudonymised");
        let n = Note::classify("killed by signal SIGSEGV (core dumped), 12 records");
        assert_eq!(
            (n.code.as_str(), n.params["signal"].as_str()),
            ("crash_signal_core", "SIGSEGV")
        );
        let ext4 = format!(
            "{} (in-memory replay failed: bad block)",
            crate::fs::ext4::NOTE_NOT_REPLAYED
        );
        let n = Note::classify(&ext4);
        assert_eq!(n.code, "journal_not_replayed");
        assert_eq!(n.params["error"], "bad block");
        assert_eq!(
            n.render(Lang::Fr),
            "journal non rejoué : des modifications récentes peuvent manquer (échec du rejeu en mémoire : bad block)"
        );
        let n = Note::classify(crate::fs::ext4::NOTE_NOT_REPLAYED);
        assert_eq!(n.code, "journal_not_replayed");
        assert!(n.params.is_empty());
        let n = Note::classify("error: /a: b: c");
        assert_eq!(
            (n.code.as_str(), n.params["path"].as_str()),
            ("file_error", "/a")
        );
        assert_eq!(n.params["error"], "b: c");
        assert_eq!(n.render(Lang::Fr), "erreur : /a : b: c");
    }

    #[test]
    fn anything_else_is_other_with_its_text() {
        let n = Note::classify("a brand new remark");
        assert_eq!(n.code, OTHER);
        assert_eq!(n.render(Lang::Fr), "a brand new remark");
        // A template's literal alone, or with an empty variable part, is not a match.
        assert_eq!(Note::classify("walk stopped: ").code, OTHER);
        assert_eq!(Note::classify("further errors not listed!").code, OTHER);
        // Serialised: code, params when any, text.
        let j = serde_json::to_string(&Note::classify("walk stopped: x")).unwrap();
        assert_eq!(
            j,
            r#"{"code":"walk_stopped","params":{"error":"x"},"text":"walk stopped: x"}"#
        );
    }
}
