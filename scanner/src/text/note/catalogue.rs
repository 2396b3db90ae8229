//! The catalogue of notes: per stable code, the English sentence exactly as the code emits it
//! (`{name}` marks a variable part) and its French wording. Grouped by the module that emits
//! them; `tests.rs` checks that every note the sources build is in here.

use super::Entry;

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
    e(
        "ntfs_orphans_found_unreadable",
        "{found} in-use file records were listed by no directory: found by a sweep of $MFT and scanned ({under_orphan} under /<orphan>/<record number>); {unreadable} $MFT records could not be checked by the orphan sweep",
        "{found} enregistrements de fichiers en usage n'étaient listés par aucun répertoire : trouvés en parcourant la $MFT et analysés ({under_orphan} sous /<orphan>/<numéro d'enregistrement>) ; {unreadable} enregistrements de la $MFT n'ont pas pu être vérifiés par la recherche d'orphelins",
    ),
    e(
        "ntfs_orphans_found",
        "{found} in-use file records were listed by no directory: found by a sweep of $MFT and scanned ({under_orphan} under /<orphan>/<record number>)",
        "{found} enregistrements de fichiers en usage n'étaient listés par aucun répertoire : trouvés en parcourant la $MFT et analysés ({under_orphan} sous /<orphan>/<numéro d'enregistrement>)",
    ),
    e(
        "ntfs_orphans_unreadable",
        "{unreadable} $MFT records could not be checked by the orphan sweep",
        "{unreadable} enregistrements de la $MFT n'ont pas pu être vérifiés par la recherche d'orphelins",
    ),
    e(
        "ntfs_orphans_not_swept",
        "records missing from directory indexes were not looked for ($MFT map unavailable)",
        "les enregistrements absents des index de répertoires n'ont pas été recherchés (carte de la $MFT indisponible)",
    ),
    e(
        "ntfs_mft_map_failed",
        "$MFT map could not be built ({error}): records beyond its first extent may be unreachable",
        "la carte de la $MFT n'a pas pu être construite ({error}) : des enregistrements au-delà de son premier fragment peuvent être inaccessibles",
    ),
    e(
        "ntfs_wof_undecoded",
        "{count} CompactOS (WOF) streams did not decode: skipped as wof_compressed",
        "{count} flux CompactOS (WOF) n'ont pas pu être décodés : ignorés (wof_compressed)",
    ),
    // fs::ext4
    e(
        "journal_replayed_empty",
        "journal replayed in memory: it held no transaction",
        "journal rejoué en mémoire : il ne contenait aucune transaction",
    ),
    e(
        "journal_replayed",
        "journal replayed in memory: {transactions} transactions, {blocks} blocks (nothing written)",
        "journal rejoué en mémoire : {transactions} transactions, {blocks} blocs (rien n'a été écrit)",
    ),
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
        "journal_reader_crashed",
        "journal not replayed: recent changes may be missing (journal reader crashed: {error})",
        "journal non rejoué : des modifications récentes peuvent manquer (le lecteur du journal a planté : {error})",
    ),
    e(
        "journal_not_replayed",
        "journal not replayed: recent changes may be missing ({reason})",
        "journal non rejoué : des modifications récentes peuvent manquer ({reason})",
    ),
    e(
        "journal_backup_used",
        "journal inode {inode} unusable ({error}): the superblock's backup of it was used",
        "inode {inode} du journal inutilisable ({error}) : sa copie de secours dans le superbloc a été utilisée",
    ),
    e(
        "journal_fast_commit",
        "fast-commit records of the journal are not replayed",
        "les enregistrements fast-commit du journal ne sont pas rejoués",
    ),
    e(
        "journal_too_many_records",
        "journal holds more than {max} records: the rest was not replayed",
        "le journal contient plus de {max} enregistrements : le reste n'a pas été rejoué",
    ),
    e(
        "journal_bad_checksums",
        "{count} journal blocks with a bad checksum not replayed",
        "{count} blocs du journal à la somme de contrôle invalide non rejoués",
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
    e(
        "fat32_few_clusters",
        "FAT32 with {clusters} clusters, under the specification's minimum of {min}: read as FAT32, as Linux does",
        "FAT32 avec {clusters} clusters, sous le minimum de la spécification ({min}) : lu comme FAT32, comme le fait Linux",
    ),
    e(
        "fat16_many_clusters",
        "FAT16 with {clusters} clusters: only the first {max} are read",
        "FAT16 avec {clusters} clusters : seuls les {max} premiers sont lus",
    ),
    e(
        "fat_count_64bit",
        "sector count only in the 64-bit field at offset 0x52 (DR-DOS convention)",
        "nombre de secteurs seulement dans le champ 64 bits à l'offset 0x52 (convention DR-DOS)",
    ),
    e(
        "fat_count_from_fat_size",
        "no sector count in the boot sector: the FAT's size gives the cluster count, as Linux does",
        "aucun nombre de secteurs dans le secteur de démarrage : la taille de la FAT donne le nombre de clusters, comme le fait Linux",
    ),
    e(
        "fat32_version",
        "FAT32 version {version} (0 expected): ignored",
        "FAT32 version {version} (0 attendu) : ignorée",
    ),
    // fs::exfat
    e(
        "exfat_dirty",
        "volume was not cleanly unmounted (VolumeDirty flag set)",
        "volume non démonté proprement (indicateur VolumeDirty levé)",
    ),
    e(
        "exfat_media_failure",
        "volume reports media failures (MediaFailure flag set)",
        "le volume signale des défaillances du support (indicateur MediaFailure levé)",
    ),
    e(
        "exfat_truncated",
        "volume states {stated} bytes but the device holds {size}: files beyond its end are unreadable",
        "le volume annonce {stated} octets mais le périphérique n'en contient que {size} : les fichiers au-delà de sa fin sont illisibles",
    ),
    e(
        "exfat_root_crashed",
        "reader crashed on the root directory: {error}",
        "le lecteur a planté sur le répertoire racine : {error}",
    ),
    e(
        "exfat_root_unreadable",
        "root directory: {error}",
        "répertoire racine : {error}",
    ),
    e(
        "exfat_no_bitmap",
        "no allocation bitmap entry in the root directory",
        "aucune entrée de bitmap d'allocation dans le répertoire racine",
    ),
    e(
        "exfat_root_cluster_free",
        "allocation bitmap marks the root directory's cluster free",
        "le bitmap d'allocation marque le cluster du répertoire racine comme libre",
    ),
    e(
        "exfat_bitmap_short",
        "allocation bitmap of {len} bytes is shorter than the {want} the cluster count needs",
        "le bitmap d'allocation de {len} octets est plus court que les {want} qu'exige le nombre de clusters",
    ),
    e(
        "exfat_bitmap_bad_cluster",
        "allocation bitmap starts at invalid cluster {cluster}",
        "le bitmap d'allocation commence au cluster invalide {cluster}",
    ),
    e(
        "exfat_bitmap_unreadable",
        "allocation bitmap unreadable: {error}",
        "bitmap d'allocation illisible : {error}",
    ),
    e(
        "exfat_backup_boot_used_anyway",
        "main boot region damaged ({problem}); backup boot region used although {why}",
        "zone de démarrage principale endommagée ({problem}) ; zone de secours utilisée bien que : {why}",
    ),
    e(
        "exfat_backup_boot_used",
        "main boot region damaged ({problem}): the backup boot region was used",
        "zone de démarrage principale endommagée ({problem}) : la zone de secours a été utilisée",
    ),
    e(
        "exfat_backup_boot_no_better",
        "{problem}, and the backup boot region is no better: main boot sector used",
        "{problem}, et la zone de démarrage de secours ne vaut pas mieux : secteur de démarrage principal utilisé",
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
    // scan::engine::members (`{path}` is the container's location)
    e(
        "container_more_notes",
        "further container notes not listed",
        "autres remarques sur les conteneurs non listées",
    ),
    e(
        "container_unsupported",
        "{path}: {container} container: members not scanned",
        "{path} : conteneur {container} : membres non analysés",
    ),
    e(
        "container_too_large",
        "{path}: {container} too large to open in memory",
        "{path} : {container} trop gros pour être ouvert en mémoire",
    ),
    e(
        "container_not_mappable",
        "{path}: {container} larger than the full-scan limit and not mappable: members not scanned",
        "{path} : {container} au-delà de la limite d'analyse complète et impossible à lire sur place : membres non analysés",
    ),
    e(
        "container_scanned_as_bytes",
        "{path}: {container} larger than the full-scan limit: scanned as bytes, members not scanned",
        "{path} : {container} au-delà de la limite d'analyse complète : analysé comme des octets, membres non analysés",
    ),
    e(
        "container_too_deep",
        "{path}: {container} nested deeper than {depth}: members not scanned",
        "{path} : {container} imbriqué à plus de {depth} niveaux : membres non analysés",
    ),
    e(
        "container_too_many_members",
        "{path}: more than {max} members: the rest not scanned",
        "{path} : plus de {max} membres : les autres non analysés",
    ),
    e(
        "member_above_limit",
        "{path}: declared {declared} bytes, above the member limit",
        "{path} : {declared} octets annoncés, au-delà de la limite par membre",
    ),
    e(
        "member_expansion_limit",
        "{path}: expansion limit of this file reached (compression bomb?): the rest not scanned",
        "{path} : limite de décompression de ce fichier atteinte (bombe de décompression ?) : le reste non analysé",
    ),
    e(
        "container_expansion_stopped",
        "{path}: expansion stopped (compression bomb?): the rest of this container not scanned",
        "{path} : décompression arrêtée (bombe de décompression ?) : le reste de ce conteneur non analysé",
    ),
    e(
        "member_larger_than",
        "{path}: member larger than {max} bytes",
        "{path} : membre de plus de {max} octets",
    ),
    e(
        "member_expanded_too_much",
        "{path}: expanded bytes of this file exceed the limit (compression bomb?)",
        "{path} : les octets décompressés de ce fichier dépassent la limite (bombe de décompression ?)",
    ),
    e(
        "member_ratio",
        "{path}: compression ratio above {ratio}:1 (compression bomb)",
        "{path} : taux de compression supérieur à {ratio}:1 (bombe de décompression)",
    ),
    e(
        "container_udf_reserve_sequence",
        "{path}: udf: main volume descriptor sequence unreadable: reserve copy used",
        "{path} : udf : séquence principale de descripteurs de volume illisible : copie de réserve utilisée",
    ),
    e(
        "container_udf_vat",
        "{path}: udf: virtual partition (VAT, write-once disc) not read",
        "{path} : udf : partition virtuelle (VAT, disque non réinscriptible) non lue",
    ),
    e(
        "container_udf_metadata_mirror",
        "{path}: udf: metadata file unreadable: its mirror used",
        "{path} : udf : fichier de métadonnées illisible : son miroir a été utilisé",
    ),
    e(
        "container_udf_no_sparing_table",
        "{path}: udf: no readable sparing table: packets read where first written",
        "{path} : udf : aucune table de remplacement lisible : paquets lus à leur emplacement d'origine",
    ),
    e(
        "container_udf_bridged",
        "{path}: udf: {error}: its ISO 9660 side read instead",
        "{path} : udf : {error} : son côté ISO 9660 a été lu à la place",
    ),
    e(
        "container_vhdx_log",
        "{path}: disk image: vhdx log not replayed (the image was not closed cleanly): read as it is",
        "{path} : image disque : journal vhdx non rejoué (l'image n'a pas été fermée proprement) : lue telle quelle",
    ),
    e(
        "container_corrupt",
        "{path}: {container}: corrupt {detail}",
        "{path} : {container} : endommagé ({detail})",
    ),
    e(
        "container_unsupported_variant",
        "{path}: {container}: unsupported {detail}",
        "{path} : {container} : variante non prise en charge ({detail})",
    ),
    e(
        "container_encrypted",
        "{path}: {container}: encrypted container",
        "{path} : {container} : conteneur chiffré",
    ),
    e(
        "container_limit",
        "{path}: {container}: limit reached: {detail}",
        "{path} : {container} : limite atteinte : {detail}",
    ),
    e(
        "container_crashed",
        "{path}: {container}: reader crashed: {detail}",
        "{path} : {container} : le lecteur a planté : {detail}",
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
    // disk::gpt, disk::mbr
    e(
        "gpt_header_unreadable",
        "GPT header at sector {sector} unreadable: {error}",
        "en-tête GPT du secteur {sector} illisible : {error}",
    ),
    e(
        "gpt_entry_reversed",
        "GPT entry {number} ends (sector {last}) before it starts (sector {first}): ignored",
        "l'entrée GPT {number} se termine (secteur {last}) avant de commencer (secteur {first}) : ignorée",
    ),
    e(
        "gpt_entry_beyond_disk",
        "GPT entry {number} starts beyond any possible disk: ignored",
        "l'entrée GPT {number} commence au-delà de tout disque possible : ignorée",
    ),
    e(
        "gpt_used_backup_entries",
        "{why} and backup GPT partition array CRC mismatch: used the backup entries anyway",
        "{why} et somme de contrôle du tableau de partitions GPT de secours invalide : entrées de secours utilisées malgré tout",
    ),
    e(
        "gpt_used_primary_entries",
        "{why} and {backup}: used the primary entries anyway",
        "{why} et {backup} : entrées principales utilisées malgré tout",
    ),
    e(
        "gpt_unusable",
        "primary {primary}; backup {backup}",
        "aucune GPT utilisable (principale : {primary} ; secours : {backup})",
    ),
    e(
        "ebr_too_many",
        "more than {max} extended boot records: the rest of the chain was ignored",
        "plus de {max} enregistrements de démarrage étendus : le reste de la chaîne a été ignoré",
    ),
    e(
        "ebr_loop",
        "the extended partition chain loops back to sector {sector}: stopped there",
        "la chaîne des partitions étendues revient au secteur {sector} : arrêtée là",
    ),
    e(
        "ebr_unreadable",
        "extended boot record at sector {sector} unreadable ({error}): chain stopped",
        "enregistrement de démarrage étendu du secteur {sector} illisible ({error}) : chaîne arrêtée",
    ),
    e(
        "ebr_past_end",
        "extended boot record at sector {sector} lies past the end of the disk: chain stopped",
        "enregistrement de démarrage étendu du secteur {sector} situé après la fin du disque : chaîne arrêtée",
    ),
    e(
        "ebr_no_signature",
        "extended boot record at sector {sector} has no 0x55AA signature: chain stopped",
        "enregistrement de démarrage étendu du secteur {sector} sans signature 0x55AA : chaîne arrêtée",
    ),
    e(
        "ebr_stray_entry",
        "ignored a stray entry (slot {slot}) in the extended boot record at sector {sector}",
        "entrée parasite ignorée (emplacement {slot}) dans l'enregistrement de démarrage étendu du secteur {sector}",
    ),
    e(
        "too_many_logicals",
        "more than {max} logical partitions: the rest were ignored",
        "plus de {max} partitions logiques : les autres ont été ignorées",
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
    // scan::engine::members: a member not read, for a skip reason (`{skip}` must be one of
    // [`SKIP_CODES`]; last, as its shape is the most general)
    e(
        "member_skipped",
        "{path}: {skip}",
        "{path} : {skip}",
    ),
];
