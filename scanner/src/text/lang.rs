//! The two languages of the screens and reports. A leaf module: the record layer's notes
//! ([`super::note`]) render per language without depending on anything else.

/// The language of the screens and of the report's sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Français (default: most operators are French).
    #[default]
    Fr,
    /// English.
    En,
}

impl Lang {
    /// The other language.
    pub fn other(self) -> Self {
        match self {
            Self::Fr => Self::En,
            Self::En => Self::Fr,
        }
    }

    /// From a `vigie.lang=` value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fr" => Some(Self::Fr),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// `fr` / `en`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Fr => "fr",
            Self::En => "en",
        }
    }
}
