//! Classification levels for information, each mapped to its TLP 2.0 label.

use serde::{Deserialize, Serialize};

/// The default four-level scheme, ordered from least to most sensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    Public,
    Internal,
    Confidential,
    Restricted,
}

impl Classification {
    /// The Traffic Light Protocol 2.0 label that marks this level.
    pub const fn tlp_label(self) -> &'static str {
        match self {
            Self::Public => "TLP:CLEAR",
            Self::Internal => "TLP:GREEN",
            Self::Confidential => "TLP:AMBER",
            Self::Restricted => "TLP:RED",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Classification;

    #[test]
    fn levels_order_by_sensitivity_and_map_to_tlp() {
        assert!(Classification::Public < Classification::Restricted);
        assert_eq!(Classification::Confidential.tlp_label(), "TLP:AMBER");
    }
}
