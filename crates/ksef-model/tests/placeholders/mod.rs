//! Valid values for the placeholders of the Ministry's invoice templates, shared by the tests
//! that fill them in (`#[path]` where the test is not at the top of `tests/`).

/// Valid values for the templates' placeholders (NIPs with correct check digits).
pub(crate) const PLACEHOLDERS: &[(&str, &str)] = &[
    ("#nip#", "5265877635"),
    ("#nip_podmiot1#", "5265877635"),
    ("#nipOdbiorca#", "7740001454"),
    ("#buyer_nip#", "7740001454"),
    ("#nip_podmiot2#", "7740001454"),
    ("#nip1_podmiot3#", "9512330455"),
    ("#nip2_podmiot3#", "1111111111"),
    ("#idwew1_podmiot3#", "9512330455-00001"),
    ("#idwew2_podmiot3#", "1111111111-00002"),
    ("#invoice_number#", "FV/2025/11/0001"),
];
