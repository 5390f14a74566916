//! Label files and the names in them: one label a line, and iNaturalist's
//! `Genus species (Common Name)` labels turned into a [`Taxonomy`].

use std::path::Path;

use unicode_normalization::UnicodeNormalization;

use crate::bundle::{HigherRanks, Taxonomy};
use crate::error::{Result, TaxaError};

/// Parses a labels file: one label a line; a leading byte-order mark, blank
/// lines and surrounding whitespace are ignored, and each label is kept in
/// Unicode NFC, so a decomposed `é` (macOS) and a composed one are one label.
pub fn parse_labels(text: &str) -> Result<Vec<String>> {
    let labels: Vec<String> =
        without_bom(text).lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| l.nfc().collect()).collect();
    if labels.is_empty() {
        return Err(TaxaError::Labels("no labels found (expected one label a line)".into()));
    }
    Ok(labels)
}

/// Reads a labels file from disk. Errors: [`TaxaError::Io`] naming the path,
/// [`TaxaError::Labels`] when it is not UTF-8 or holds no label.
pub fn read_labels(path: &Path) -> Result<Vec<String>> {
    let bytes = std::fs::read(path).map_err(|e| TaxaError::io(path, e))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| TaxaError::Labels(format!("{} is not UTF-8 text", path.display())))?;
    parse_labels(&text).map_err(|e| TaxaError::Labels(format!("{}: {e}", path.display())))
}

/// `text` without a leading UTF-8 byte-order mark (U+FEFF), which Windows
/// Notepad and Excel write at the start of text files.
pub fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// The form in which two names are compared as a person reads them:
/// trimmed, Unicode NFC (macOS writes file and folder names decomposed, NFD),
/// and lower-cased by Unicode's rules, not ASCII's (`Ä` matches `ä`).
pub fn name_key(name: &str) -> String {
    name.trim().nfc().collect::<String>().to_lowercase()
}

/// Whether `a` and `b` are the same name to a reader (see [`name_key`]).
pub fn same_name(a: &str, b: &str) -> bool {
    a == b || name_key(a) == name_key(b)
}

/// One label read as an iNaturalist species name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeciesLabel {
    /// The scientific name as written, escapes decoded (`Anas superciliosa ×
    /// platyrhynchos`, `Ardea herodias occidentalis`): the class's label.
    pub scientific_name: String,
    /// Genus, species (the binomial, or the whole hybrid formula) and the
    /// common name; the genus is the only higher rank a label tells.
    pub taxonomy: Taxonomy,
}

impl SpeciesLabel {
    /// Reads `Scientific name (Common Name)`, as iNaturalist's and Coral's
    /// label files write it:
    /// - the outermost trailing brackets hold the common name, which may
    ///   hold brackets itself (`Circus cyaneus hudsonius (Northern Harrier
    ///   (American))`); empty brackets `()` mean no common name;
    /// - `\xHH` escapes (Python's repr of a Latin-1 character, e.g. `\xd7`
    ///   for the hybrid sign ×) are decoded;
    /// - the genus is the first word; the species is the first two words
    ///   (a trinomial's subspecies rolls up into its species), or the whole
    ///   name for a hybrid formula (a word `×`); a one-word name is a genus
    ///   or higher taxon known only by that name, kept as the species name.
    ///
    /// `None` for a line with no scientific name (empty, or only brackets).
    pub fn parse(line: &str) -> Option<SpeciesLabel> {
        let line = decode_hex_escapes(line.trim());
        let (scientific, common) = split_common_name(&line);
        let scientific = scientific.split_whitespace().collect::<Vec<_>>().join(" ");
        if scientific.is_empty() {
            return None;
        }
        let words: Vec<&str> = scientific.split(' ').collect();
        let hybrid = words.iter().any(|w| *w == "×" || w.starts_with('×'));
        let (genus, species) = match words.as_slice() {
            [genus, _, ..] if hybrid => (Some(genus.to_string()), scientific.clone()),
            [genus, epithet, ..] => (Some(genus.to_string()), format!("{genus} {epithet}")),
            _ => (None, scientific.clone()),
        };
        let taxonomy = Taxonomy {
            ranks: HigherRanks { genus, ..Default::default() },
            species,
            common_name: common.filter(|c| !c.is_empty()),
        };
        Some(SpeciesLabel { scientific_name: scientific, taxonomy })
    }
}

/// Splits `name (common)` at the outermost trailing bracket pair. Unbalanced
/// brackets leave the whole line as the name.
fn split_common_name(line: &str) -> (&str, Option<String>) {
    let Some(body) = line.strip_suffix(')') else { return (line, None) };
    let mut depth = 1usize;
    for (i, c) in body.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    let common = body[i + 1..].split_whitespace().collect::<Vec<_>>().join(" ");
                    return (line[..i].trim_end(), Some(common));
                }
            }
            _ => {}
        }
    }
    (line, None)
}

/// Decodes `\xHH` (two hex digits) into the Latin-1 character U+00HH;
/// anything else is kept as written.
fn decode_hex_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\\x") {
        out.push_str(&rest[..at]);
        let hex = rest.get(at + 2..at + 4).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[at + 4..];
            }
            None => {
                out.push_str("\\x");
                rest = &rest[at + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> (String, Option<String>, String, Option<String>) {
        let label = SpeciesLabel::parse(line).unwrap();
        (label.scientific_name, label.taxonomy.ranks.genus, label.taxonomy.species, label.taxonomy.common_name)
    }

    #[test]
    fn labels_file_parsing() {
        assert_eq!(parse_labels("a\n\n  b c \r\n").unwrap(), vec!["a", "b c"]);
        assert!(matches!(parse_labels(" \n"), Err(TaxaError::Labels(_))));
    }

    #[test]
    fn binomial_with_common_name() {
        assert_eq!(
            parsed("Haemorhous cassinii (Cassin's Finch)"),
            ("Haemorhous cassinii".into(), Some("Haemorhous".into()), "Haemorhous cassinii".into(), Some("Cassin's Finch".into()))
        );
    }

    #[test]
    fn trinomial_rolls_up_into_its_binomial() {
        let (name, genus, species, common) = parsed("Ardea herodias occidentalis (Great White Heron)");
        assert_eq!(name, "Ardea herodias occidentalis");
        assert_eq!((genus.as_deref(), species.as_str()), (Some("Ardea"), "Ardea herodias"));
        assert_eq!(common.as_deref(), Some("Great White Heron"));
    }

    #[test]
    fn hybrid_escape_is_decoded_and_the_formula_is_the_species() {
        let (name, genus, species, common) = parsed(r"Anas superciliosa \xd7 platyrhynchos (Pacific Black Duck \xd7 Mallard hybrid)");
        assert_eq!(name, "Anas superciliosa × platyrhynchos");
        assert_eq!(species, name);
        assert_eq!(genus.as_deref(), Some("Anas"));
        assert_eq!(common.as_deref(), Some("Pacific Black Duck × Mallard hybrid"));
    }

    #[test]
    fn nested_brackets_belong_to_the_common_name() {
        let (name, _, species, common) = parsed("Circus cyaneus hudsonius (Northern Harrier (American))");
        assert_eq!((name.as_str(), species.as_str()), ("Circus cyaneus hudsonius", "Circus cyaneus"));
        assert_eq!(common.as_deref(), Some("Northern Harrier (American)"));
    }

    #[test]
    fn empty_brackets_mean_no_common_name() {
        let (name, _, _, common) = parsed("Syntomoides imaon ()");
        assert_eq!((name.as_str(), common), ("Syntomoides imaon", None));
    }

    #[test]
    fn plain_and_odd_lines() {
        assert_eq!(parsed("background"), ("background".into(), None, "background".into(), None));
        assert_eq!(parsed("Rana temporaria"), ("Rana temporaria".into(), Some("Rana".into()), "Rana temporaria".into(), None));
        // Unbalanced brackets stay part of the name; a bad escape stays as written.
        assert_eq!(parsed("Rana (frog").0, "Rana (frog");
        assert_eq!(parsed(r"Rana \xzz temporaria").0, r"Rana \xzz temporaria");
        assert_eq!(parsed(r"Rana \x").0, r"Rana \x");
        assert!(SpeciesLabel::parse("   ").is_none());
        assert!(SpeciesLabel::parse("(Only A Common Name)").is_none());
    }
}
