//! The parties of an invoice: the seller, the buyer and their addresses.

use super::BuildError;
use super::arith::check_text;
use crate::values::Nip;
use crate::xml::fa3::{
    FakturaPodmiot1, FakturaPodmiot2, FakturaPodmiot2Gv, FakturaPodmiot2Jst, TAdresType,
    TKodKrajuType, TPodmiot1Type, TPodmiot2Content74Type, TPodmiot2Content76Type,
    TPodmiot2Content77Type, TPodmiot2Type, TWybor1Type,
};

/// An address (`Adres`): country and up to two free-text lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    country: TKodKrajuType,
    line1: String,
    line2: Option<String>,
}

impl Address {
    /// An address in `country`, first line `line1` (street and number, or the whole address).
    pub fn new(country: TKodKrajuType, line1: impl Into<String>) -> Self {
        Self {
            country,
            line1: line1.into(),
            line2: None,
        }
    }

    /// Adds the second line (postcode and town, for example).
    #[must_use]
    pub fn with_line2(mut self, line2: impl Into<String>) -> Self {
        self.line2 = Some(line2.into());
        self
    }

    pub(super) fn build(&self, at: &str) -> Result<TAdresType, BuildError> {
        Ok(TAdresType {
            kod_kraju: self.country.clone(),
            adres_l1: check_text(&format!("{at}/AdresL1"), &self.line1, 512)?,
            adres_l2: self
                .line2
                .as_deref()
                .map(|l| check_text(&format!("{at}/AdresL2"), l, 512))
                .transpose()?,
            gln: None,
        })
    }
}

/// The seller (`Podmiot1`): NIP, name and address, all required.
#[derive(Debug, Clone, PartialEq)]
pub struct Seller {
    nip: Nip,
    name: String,
    address: Address,
}

impl Seller {
    /// A seller identified by `nip`.
    pub fn new(nip: Nip, name: impl Into<String>, address: Address) -> Self {
        Self {
            nip,
            name: name.into(),
            address,
        }
    }

    pub(super) fn build(&self) -> Result<FakturaPodmiot1, BuildError> {
        Ok(FakturaPodmiot1 {
            prefiks_podatnika: None,
            nr_eori: None,
            dane_identyfikacyjne: TPodmiot1Type {
                nip: self.nip.as_str().to_owned(),
                nazwa: check_text("Podmiot1/DaneIdentyfikacyjne/Nazwa", &self.name, 512)?,
            },
            adres: self.address.build("Podmiot1/Adres")?,
            adres_koresp: None,
            dane_kontaktowe: Vec::new(),
            status_info_podatnika: None,
        })
    }
}

/// How the buyer is identified for tax (`Podmiot2/DaneIdentyfikacyjne`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BuyerId {
    /// A Polish NIP.
    Nip(Nip),
    /// Another tax identifier (up to 50 characters), optionally with the country that issued it.
    Other {
        /// The issuing country, when known.
        country: Option<TKodKrajuType>,
        /// The identifier.
        id: String,
    },
    /// The buyer has no tax identifier, or it is not shown (a consumer, for example).
    None,
}

/// The buyer (`Podmiot2`): identifier and name, optionally an address.
#[derive(Debug, Clone, PartialEq)]
pub struct Buyer {
    id: BuyerId,
    name: String,
    address: Option<Address>,
}

impl Buyer {
    /// A buyer identified by `id`, named `name`.
    pub fn new(id: BuyerId, name: impl Into<String>) -> Self {
        Self {
            id,
            name: name.into(),
            address: None,
        }
    }

    /// Adds the buyer's address.
    #[must_use]
    pub fn with_address(mut self, address: Address) -> Self {
        self.address = Some(address);
        self
    }

    pub(super) fn build(&self) -> Result<FakturaPodmiot2, BuildError> {
        let id = match &self.id {
            BuyerId::Nip(nip) => TPodmiot2Content74Type::Nip(nip.as_str().to_owned()),
            BuyerId::Other { country, id } => {
                TPodmiot2Content74Type::Content76(TPodmiot2Content76Type {
                    kod_kraju: country.clone(),
                    nr_id: check_text("Podmiot2/DaneIdentyfikacyjne/NrID", id, 50)?,
                })
            }
            BuyerId::None => TPodmiot2Content74Type::BrakId(TWybor1Type::_1),
        };
        Ok(FakturaPodmiot2 {
            nr_eori: None,
            dane_identyfikacyjne: TPodmiot2Type {
                content_74: id,
                content_77: Some(TPodmiot2Content77Type {
                    nazwa: check_text("Podmiot2/DaneIdentyfikacyjne/Nazwa", &self.name, 512)?,
                }),
            },
            adres: self
                .address
                .as_ref()
                .map(|a| a.build("Podmiot2/Adres"))
                .transpose()?,
            adres_koresp: None,
            dane_kontaktowe: Vec::new(),
            nr_klienta: None,
            id_nabywcy: None,
            jst: FakturaPodmiot2Jst::_2,
            gv: FakturaPodmiot2Gv::_2,
        })
    }
}
