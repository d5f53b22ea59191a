//! [`PeppolId`]: the identifier of a Peppol service provider.

use serde::Serialize;

use super::error::{IdentifierError, IdentifierKind};
use super::scan::Cx;
use super::{Level, string_identifier};

/// The KSeF identifier of a Peppol service provider: `P`, two uppercase letters and six digits,
/// e.g. `PPL123456` (the spec's `PeppolId`, pattern `^P[A-Z]{2}[0-9]{6}$`). It has no check
/// digit, so both checking levels are the same: [`PeppolId::parse_wire`] and deserialization
/// accept exactly what [`FromStr`](std::str::FromStr) accepts.
///
/// ```
/// use ksef_model::values::PeppolId;
///
/// let id: PeppolId = "PPL123456".parse()?;
/// assert_eq!(id.as_str(), "PPL123456");
/// assert!("PPL12345".parse::<PeppolId>().is_err());
/// # Ok::<(), ksef_model::values::IdentifierError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct PeppolId(String);

string_identifier!(PeppolId);

impl PeppolId {
    /// The number of characters of a Peppol ID.
    pub const LEN: usize = 9;

    /// Checks a Peppol ID; both levels check the same (a pattern, no check digit).
    fn check(input: &str, _level: Level) -> Result<(), IdentifierError> {
        let cx = Cx::new(IdentifierKind::PeppolId, input);
        let b = cx.ascii_with_len(Self::LEN, Self::LEN)?;
        cx.each(b, 0, 1, |c| c == b'P', "the letter P")?;
        cx.each(b, 1, 2, |c| c.is_ascii_uppercase(), "an uppercase letter")?;
        cx.digits(b, 3, 6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects() {
        assert!("PPL123456".parse::<PeppolId>().is_ok());
        assert!("PAB000000".parse::<PeppolId>().is_ok());
        assert!(matches!(
            "XPL123456".parse::<PeppolId>(),
            Err(IdentifierError::InvalidCharacter {
                position: 0,
                found: 'X',
                ..
            })
        ));
        assert!(matches!(
            "Ppl123456".parse::<PeppolId>(),
            Err(IdentifierError::InvalidCharacter { position: 1, .. })
        ));
        assert!(matches!(
            "PPL12345A".parse::<PeppolId>(),
            Err(IdentifierError::InvalidCharacter { position: 8, .. })
        ));
        assert!(matches!(
            "PPL1234567".parse::<PeppolId>(),
            Err(IdentifierError::Length { found: 10, .. })
        ));
    }
}
