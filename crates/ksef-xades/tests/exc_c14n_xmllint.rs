//! Exclusive XML Canonicalization compared byte for byte with libxml2, an independent implementation.
//!
//! - Whole documents: `xmllint --exc-c14n` (which always keeps comments) against our output with comments,
//!   and libxml2 through lxml for the variant without comments.
//! - PrefixList, subtrees and excluded subtrees: xmllint has no switch for any of them, so libxml2's C14N is
//!   driven through lxml (see `support/lxml_exc_c14n.py`). For a subtree, lxml gives libxml2 a standalone
//!   document whose root is the apex carrying every namespace declaration in scope there; for exclusive
//!   canonicalization that yields the same bytes as the apex's subtree taken as a document subset, because
//!   only visibly utilized (or listed) bindings are rendered and `xml:*` attributes are not inherited. The
//!   test `standalone_subtrees_match_xmllint` also builds such standalone documents by hand for the XAdES
//!   parts a signer canonicalizes and feeds them to xmllint itself.
//!
//! Every element of every hand-written document is tried as an apex, every non-root element as an excluded
//! subtree (alone and under each ancestor apex), and the PrefixList with every declared prefix and
//! `#default`. Generated documents (proptest) add random trees of elements, attributes, namespaces, text,
//! CDATA, comments and processing instructions. Both come from `support/corpus.rs`, which the tests of
//! the inclusive algorithms (`c14n_libxml2.rs`) share.

mod support;

use ksef_xades::c14n::{C14nOptions, canonicalize};
use ksef_xades::xml::{Document, ParseLimits};
use proptest::prelude::*;
use support::corpus::{
    CORPUS, SIGNED_AUTH_TOKEN_REQUEST, SIGNED_WITH_DS_PREFIX, Tally, canonicalize_part,
    declared_prefixes, document, elements, parse, pick_apex_and_excluded, write_document,
};
use support::{
    Query, lxml_exc_c14n, lxml_exc_c14n_oracle, show, xmllint_exc_c14n_oracle,
    xmllint_exc_c14n_with_comments,
};

fn ours(doc: &Document, query: &Query) -> Vec<u8> {
    let options = C14nOptions::new()
        .with_comments(query.with_comments)
        .with_inclusive_prefixes(query.inclusive_prefixes.iter().cloned());
    canonicalize_part(doc, options, query.apex, query.excluded)
}

/// Runs every comparison this test file makes on one document.
fn check_document(name: &str, xml: &[u8], tally: &mut Tally) {
    let doc = parse(xml);
    let count = elements(&doc).len();
    let prefixes = declared_prefixes(&doc);

    let whole = Query {
        with_comments: true,
        ..Query::default()
    };
    tally.compare(
        &format!("{name}: whole document with comments (xmllint)"),
        ours(&doc, &whole),
        xmllint_exc_c14n_oracle(xml),
    );

    let mut queries = Vec::new();
    for with_comments in [false, true] {
        let base = Query {
            with_comments,
            ..Query::default()
        };
        queries.push(base.clone());
        queries.push(Query {
            inclusive_prefixes: prefixes.clone(),
            ..base.clone()
        });
        for prefix in &prefixes {
            queries.push(Query {
                inclusive_prefixes: vec![prefix.clone()],
                ..base.clone()
            });
        }
        for apex in 0..count {
            let subtree = Query {
                apex: Some(apex),
                ..base.clone()
            };
            queries.push(subtree.clone());
            queries.push(Query {
                inclusive_prefixes: prefixes.clone(),
                ..subtree
            });
        }
    }
    let parents: Vec<Option<usize>> = {
        let elements = elements(&doc);
        elements
            .iter()
            .map(|e| {
                e.parent()
                    .and_then(|p| elements.iter().position(|x| *x == p))
            })
            .collect()
    };
    for excluded in 1..count {
        queries.push(Query {
            excluded: Some(excluded),
            ..Query::default()
        });
        // Under each ancestor as apex.
        let mut ancestor = parents[excluded];
        while let Some(apex) = ancestor {
            queries.push(Query {
                apex: Some(apex),
                excluded: Some(excluded),
                ..Query::default()
            });
            ancestor = parents[apex];
        }
    }

    for query in queries {
        tally.compare(
            &format!("{name}: {query:?}"),
            ours(&doc, &query),
            lxml_exc_c14n_oracle(xml, &query),
        );
    }
    tally.settle(name);
}

#[test]
fn hand_written_corpus_matches_libxml2() {
    if !support::available() {
        return;
    }
    let mut tally = Tally::default();
    for (name, xml) in CORPUS {
        check_document(name, xml.as_bytes(), &mut tally);
    }
    eprintln!(
        "{} hand-written documents, {} comparisons with libxml2",
        CORPUS.len(),
        tally.compared
    );
    tally.assert_clean();
}

/// The canonical forms a signer needs, pinned, so that a change in them is noticed even without the oracle.
#[test]
fn signing_inputs_are_stable() {
    let doc = parse(SIGNED_AUTH_TOKEN_REQUEST.as_bytes());
    let signature = doc.element_by_id("Signature").unwrap().unwrap();
    let signed_properties = doc.element_by_id("SignedProperties").unwrap().unwrap();
    let signed_info = signature
        .child("http://www.w3.org/2000/09/xmldsig#", "SignedInfo")
        .unwrap();

    let enveloped = canonicalize(
        doc.as_node(),
        &C14nOptions::new().with_excluded(signature.id()),
    )
    .unwrap();
    assert_eq!(
        show(&enveloped),
        "<AuthTokenRequest xmlns=\"http://ksef.mf.gov.pl/auth/token/2.0\">\n  \
         <Challenge>20250604-CR-461EA5B000-537A6BA15D-D7</Challenge>\n  \
         <ContextIdentifier>\n    <Nip>5265877635</Nip>\n  </ContextIdentifier>\n  \
         <SubjectIdentifierType>certificateSubject</SubjectIdentifierType>\n</AuthTokenRequest>"
    );

    let properties = show(&canonicalize(signed_properties, &C14nOptions::new()).unwrap());
    assert!(
        properties.starts_with(
            "<xades:SignedProperties xmlns:xades=\"http://uri.etsi.org/01903/v1.3.2#\" Id=\"SignedProperties\">\
             <xades:SignedSignatureProperties>"
        ),
        "{properties}"
    );
    assert!(
        properties.contains(
            "<xades:CertDigest><DigestMethod xmlns=\"http://www.w3.org/2000/09/xmldsig#\" \
             Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"></DigestMethod>"
        ),
        "{properties}"
    );

    let info = show(&canonicalize(signed_info, &C14nOptions::new()).unwrap());
    assert!(
        info.starts_with(
            "<SignedInfo xmlns=\"http://www.w3.org/2000/09/xmldsig#\"><CanonicalizationMethod \
             Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"></CanonicalizationMethod>"
        ),
        "{info}"
    );
}

/// Subtree canonicalization checked with xmllint itself: the subtree's text is cut out of the document
/// and the namespace declarations in scope at its apex are written onto the apex, which makes a standalone
/// document whose exclusive canonical form must equal the subtree's.
#[test]
fn standalone_subtrees_match_xmllint() {
    if !support::available() {
        return;
    }
    let cases = [
        (
            SIGNED_AUTH_TOKEN_REQUEST,
            "<SignedInfo>",
            "</SignedInfo>",
            " xmlns=\"http://www.w3.org/2000/09/xmldsig#\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"",
            ("http://www.w3.org/2000/09/xmldsig#", "SignedInfo"),
        ),
        (
            SIGNED_AUTH_TOKEN_REQUEST,
            "<xades:SignedProperties Id=\"SignedProperties\">",
            "</xades:SignedProperties>",
            " xmlns=\"http://www.w3.org/2000/09/xmldsig#\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xades=\"http://uri.etsi.org/01903/v1.3.2#\"",
            ("http://uri.etsi.org/01903/v1.3.2#", "SignedProperties"),
        ),
        (
            SIGNED_WITH_DS_PREFIX,
            "<ds:SignedInfo>",
            "</ds:SignedInfo>",
            " xmlns:tns=\"http://ksef.mf.gov.pl/auth/token/2.0\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" xmlns:xades=\"http://uri.etsi.org/01903/v1.3.2#\"",
            ("http://www.w3.org/2000/09/xmldsig#", "SignedInfo"),
        ),
        (
            SIGNED_WITH_DS_PREFIX,
            "<xades:SignedProperties Id=\"xades-id-1\">",
            "</xades:SignedProperties>",
            " xmlns:tns=\"http://ksef.mf.gov.pl/auth/token/2.0\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" xmlns:xades=\"http://uri.etsi.org/01903/v1.3.2#\"",
            ("http://uri.etsi.org/01903/v1.3.2#", "SignedProperties"),
        ),
    ];
    for (document, start_tag, end_tag, in_scope, (namespace, local_name)) in cases {
        let start = document.find(start_tag).unwrap();
        let end = document.find(end_tag).unwrap() + end_tag.len();
        let name_end = start + start_tag.find([' ', '>']).unwrap();
        let standalone = format!(
            "{}{}{}",
            &document[start..name_end],
            in_scope,
            &document[name_end..end]
        );

        let doc = parse(document.as_bytes());
        let apex = doc.root().find(namespace, local_name).unwrap();
        let ours = canonicalize(apex, &C14nOptions::new()).unwrap();
        let reference = xmllint_exc_c14n_with_comments(standalone.as_bytes()).unwrap();
        assert!(
            reference.matches(&ours),
            "{start_tag}: ours {:?}, xmllint {}",
            show(&ours),
            reference.describe()
        );
    }
}

/// Canonical XML renders a namespace node "in the same way as an attribute node", so `&`, `<`, `"` and
/// whitespace characters in a namespace name are escaped. libxml2 2.9 does not do this (xmllint writes a bare
/// `&`, which is not even well-formed; its node-set path writes `&#38;`), so this case is pinned to the
/// specification's output instead of being compared.
#[test]
fn namespace_uris_are_escaped_like_attribute_values() {
    let doc = parse(br#"<r xmlns:q="http://example.com/ns?x=1&amp;y=2"><q:a q:b="&quot;"/></r>"#);
    assert_eq!(
        show(&canonicalize(doc.as_node(), &C14nOptions::new()).unwrap()),
        r#"<r><q:a xmlns:q="http://example.com/ns?x=1&amp;y=2" q:b="&quot;"></q:a></r>"#
    );
}

#[test]
fn invalid_namespace_uris_fail_like_xmllint() {
    if !support::available() {
        return;
    }
    for xml in [
        &br#"<r xmlns:a="relative/path"><a:x/></r>"#[..],
        br#"<r xmlns="relative"/>"#,
        br#"<r><a xmlns:a="urn:a b"/></r>"#,
        br#"<r><a xmlns:a="http:>//x"/></r>"#,
    ] {
        assert!(
            xmllint_exc_c14n_with_comments(xml).is_err(),
            "{}",
            show(xml)
        );
        let doc = parse(xml);
        assert!(
            matches!(
                canonicalize(doc.as_node(), &C14nOptions::new()),
                Err(ksef_xades::Error::InvalidNamespaceUri { .. })
            ),
            "{}",
            show(xml)
        );
    }
}

fn generated_query(doc: &Document, seed: (u8, usize, usize, bool)) -> Query {
    let (prefix_mask, apex_pick, excluded_pick, with_comments) = seed;
    let candidates = ["p", "q", "ns1", "#default"];
    let inclusive_prefixes = candidates
        .iter()
        .enumerate()
        .filter(|(i, _)| prefix_mask & (1 << i) != 0)
        .map(|(_, p)| (*p).to_owned())
        .collect();
    let (apex, excluded) = pick_apex_and_excluded(doc, apex_pick, excluded_pick);
    Query {
        with_comments,
        inclusive_prefixes,
        apex,
        excluded,
    }
}

proptest! {
    // A fixed seed: the same cases every run, so libxml2's answers on them replay from the golden
    // file (KSEF_ORACLES); change the seed and run `cargo xtask oracles` to explore.
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(20_261_207),
        ..ProptestConfig::default()
    })]

    #[test]
    fn generated_documents_match_libxml2(
        document in document(),
        seed in (any::<u8>(), any::<usize>(), any::<usize>(), any::<bool>()),
    ) {
        if !support::available() {
            return Ok(());
        }
        let xml = write_document(&document);
        let doc = Document::parse(xml.as_bytes(), &ParseLimits::default())
            .map_err(|e| TestCaseError::fail(format!("{e} in {xml:?}")))?;

        let whole = Query { with_comments: true, ..Query::default() };
        let ours_whole = ours(&doc, &whole);
        let reference = xmllint_exc_c14n_with_comments(xml.as_bytes()).map_err(TestCaseError::fail)?;
        prop_assert!(
            reference.matches(&ours_whole),
            "xmllint, document {:?}: ours {:?}, xmllint {}", xml, show(&ours_whole), reference.describe()
        );
        for query in [Query::default(), generated_query(&doc, seed)] {
            let reference = lxml_exc_c14n(xml.as_bytes(), &query).map_err(TestCaseError::fail)?;
            let ours = ours(&doc, &query);
            prop_assert!(
                reference.matches(&ours),
                "libxml2 via lxml, {:?}, document {:?}: ours {:?}, libxml2 {}",
                query, xml, show(&ours), reference.describe()
            );
        }
    }
}
