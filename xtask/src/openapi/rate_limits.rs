//! The rate limits of the spec: each operation's group (`x-rate-limits` and the 429 table) and the
//! generated `RateLimitGroup`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, Result};
use serde_json::Value;

use super::render::{doc_of, push_doc};
use super::{operations_of, pascal};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) per_second: u32,
    pub(crate) per_minute: Option<u32>,
    pub(crate) per_hour: Option<u32>,
}

impl std::fmt::Display for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/s", self.per_second)?;
        if let Some(m) = self.per_minute {
            write!(f, ", {m}/min")?;
        }
        if let Some(h) = self.per_hour {
            write!(f, ", {h}/h")?;
        }
        Ok(())
    }
}

#[derive(Debug)]
pub(crate) struct Rate {
    /// The group's wire name, e.g. `invoiceSend`.
    pub(crate) group: String,
    /// `None` when the operation has no `x-rate-limits` (resolved to the fallback later).
    pub(crate) limits: Option<Limits>,
    /// What the generator had to assume, for a warning.
    pub(crate) warning: Option<String>,
}

/// The group of operations whose 429 table names none and that are limited per second only:
/// the unauthenticated endpoints, which `EffectiveApiRateLimits` calls `anonymous` (since 2.9.0).
pub(crate) const UNNAMED_GROUP: &str = "anonymous";
/// The group of an operation without `x-rate-limits` or without a readable group: the spec's
/// catch-all, where each endpoint counts by itself.
pub(crate) const FALLBACK_GROUP: &str = "other";
/// The limits of [`FALLBACK_GROUP`] when the spec states them nowhere (KSeF's `other` limits).
pub(crate) const FALLBACK_LIMITS: Limits = Limits {
    per_second: 10,
    per_minute: Some(30),
    per_hour: Some(120),
};
/// Groups the hand-written code relies on, generated even when no operation names them:
/// `other` (per endpoint), `anonymous` (per IP) and `global` (every request, per IP).
pub(crate) const ALWAYS_GROUPS: &[&str] = &[UNNAMED_GROUP, FALLBACK_GROUP, "global"];
/// The schema of `GET /rate-limits`, whose properties are the groups KSeF reports.
pub(crate) const REPORTED_GROUPS_SCHEMA: &str = "EffectiveApiRateLimits";
/// The schema of `POST /testdata/rate-limits`, whose properties are the groups a test may set.
pub(crate) const OVERRIDABLE_GROUPS_SCHEMA: &str = "ApiRateLimitsOverride";

/// The limits from `x-rate-limits` and the group from the 429 description's table ("grupa").
///
/// Never fails on a missing or odd entry: the result says what was assumed in `warning`.
pub(crate) fn rate_limit(op: &Value) -> Result<Rate> {
    let Some(limits) = op.get("x-rate-limits") else {
        return Ok(Rate {
            group: FALLBACK_GROUP.to_owned(),
            limits: None,
            warning: Some(format!(
                "no x-rate-limits: counted in the `{FALLBACK_GROUP}` group with its limits"
            )),
        });
    };
    let get = |k: &str| -> Result<Option<u32>> {
        limits
            .get(k)
            .map(|v| {
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .with_context(|| format!("x-rate-limits.{k} is not a small integer"))
            })
            .transpose()
    };
    let per_second = get("perSecond")?.context("x-rate-limits without perSecond")?;
    let per_minute = get("perMinute")?;
    let per_hour = get("perHour")?;
    let limits = Limits {
        per_second,
        per_minute,
        per_hour,
    };
    let group = group_from_429_table(op);
    let (group, warning) = match group {
        Some(g) => (g, None),
        // Endpoints limited only per second without a named group are the anonymous ones.
        None if per_minute.is_none() && per_hour.is_none() => (UNNAMED_GROUP.to_owned(), None),
        None => (
            FALLBACK_GROUP.to_owned(),
            Some(format!(
                "no rate-limit group in the 429 description: counted in `{FALLBACK_GROUP}`"
            )),
        ),
    };
    Ok(Rate {
        group,
        limits: Some(limits),
        warning,
    })
}

/// The last column of the last row of the 429 response's table, if it is a plain name.
pub(crate) fn group_from_429_table(op: &Value) -> Option<String> {
    let table = op
        .pointer("/responses/429/description")
        .and_then(Value::as_str)
        .unwrap_or("");
    table
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('|'))
        .and_then(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let last = cells.iter().rev().find(|c| !c.is_empty())?;
            last.chars()
                .all(|c| c.is_ascii_alphabetic())
                .then(|| last.to_string())
        })
}

/// One rate-limit group as the spec describes it.
#[derive(Debug, Default)]
pub(crate) struct GroupFacts {
    /// Production limits, from its operations' `x-rate-limits`, else from the example of the
    /// `/rate-limits` response (`-1` = unlimited).
    pub(crate) limits: Option<Limits>,
    /// The description of its property in [`REPORTED_GROUPS_SCHEMA`].
    pub(crate) doc: Option<String>,
    /// Reported by `GET /rate-limits`.
    pub(crate) reported: bool,
    /// Settable with the test-data API.
    pub(crate) overridable: bool,
    /// `METHOD path` of its operations.
    pub(crate) operations: Vec<String>,
}

/// Rate-limit groups by wire name, in order.
pub(crate) type Groups = Vec<(String, GroupFacts)>;

/// Every rate-limit group of the spec, in a stable order (reported groups in the schema's order,
/// then the others by name), with what the generator had to assume.
pub(crate) fn rate_limit_groups(doc: &Value) -> Result<(Groups, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut groups: BTreeMap<String, GroupFacts> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let schema_props = |name: &str| -> Vec<(String, Option<String>)> {
        doc.pointer(&format!("/components/schemas/{name}/properties"))
            .and_then(Value::as_object)
            .map(|p| {
                p.iter()
                    .map(|(k, v)| (k.clone(), doc_of(v)))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    for (name, prop_doc) in schema_props(REPORTED_GROUPS_SCHEMA) {
        order.push(name.clone());
        let g = groups.entry(name).or_default();
        g.reported = true;
        g.doc = prop_doc;
    }
    for (name, _) in schema_props(OVERRIDABLE_GROUPS_SCHEMA) {
        if !groups.contains_key(&name) {
            warnings.push(format!(
                "{OVERRIDABLE_GROUPS_SCHEMA} has `{name}`, which {REPORTED_GROUPS_SCHEMA} lacks"
            ));
        }
        groups.entry(name).or_default().overridable = true;
    }
    for (key, op) in operations_of(doc) {
        let rate = rate_limit(&op).with_context(|| format!("operation {key}"))?;
        if let Some(w) = &rate.warning {
            warnings.push(format!("{key}: {w}"));
        }
        let g = groups.entry(rate.group.clone()).or_default();
        g.operations.push(key.clone());
        match (g.limits, rate.limits) {
            (None, Some(l)) => g.limits = Some(l),
            (Some(a), Some(b)) if a != b && rate.group != FALLBACK_GROUP => {
                warnings.push(format!(
                    "{key}: limits {b} differ from {a} of other `{}` operations",
                    rate.group
                ));
            }
            _ => {}
        }
    }
    for name in ALWAYS_GROUPS {
        groups.entry((*name).to_owned()).or_default();
    }
    // Limits the /rate-limits example states for groups no operation declares.
    if let Some(example) = rate_limits_example(doc) {
        for (name, g) in groups.iter_mut() {
            if g.limits.is_some() {
                continue;
            }
            let Some(v) = example.get(name) else { continue };
            let get = |k: &str| {
                v.get(k)
                    .and_then(Value::as_i64)
                    .and_then(|n| u32::try_from(n).ok())
            };
            if let Some(per_second) = get("perSecond") {
                g.limits = Some(Limits {
                    per_second,
                    per_minute: get("perMinute"),
                    per_hour: get("perHour"),
                });
            }
        }
    }
    if let Some(other) = groups.get_mut(FALLBACK_GROUP)
        && other.limits.is_none()
    {
        warnings.push(format!(
            "the spec states no limits for `{FALLBACK_GROUP}`: using {FALLBACK_LIMITS}"
        ));
        other.limits = Some(FALLBACK_LIMITS);
    }
    let mut rest: Vec<String> = groups
        .keys()
        .filter(|k| !order.contains(k))
        .cloned()
        .collect();
    rest.sort();
    order.extend(rest);
    let out = order
        .into_iter()
        .map(|name| {
            let facts = groups.remove(&name).unwrap_or_default();
            (name, facts)
        })
        .collect();
    Ok((out, warnings))
}

/// The example body of a response whose schema is [`REPORTED_GROUPS_SCHEMA`].
fn rate_limits_example(doc: &Value) -> Option<Value> {
    let schema_ref = format!("#/components/schemas/{REPORTED_GROUPS_SCHEMA}");
    if let Some(ex) = doc.pointer(&format!(
        "/components/schemas/{REPORTED_GROUPS_SCHEMA}/example"
    )) {
        return Some(ex.clone());
    }
    for (_, op) in operations_of(doc) {
        let Some(json) = op.pointer("/responses/200/content/application~1json") else {
            continue;
        };
        if json.pointer("/schema/$ref").and_then(Value::as_str) == Some(schema_ref.as_str())
            && let Some(ex) = json.get("example")
        {
            return Some(ex.clone());
        }
    }
    None
}

/// `RateLimitGroup`: one variant per group, with wire names, production limits and the
/// reported/overridable lists.
pub(super) fn render_rate_limit_groups(groups: &[(String, GroupFacts)]) -> String {
    let mut out = String::from(
        "/// The rate-limit group an operation counts against: the \"grupa\" column of the spec's \
         limit tables, plus the groups `GET /rate-limits` reports.\n\
         ///\n/// Generated from the spec: operations without a named group and limited per second only \
         count as `anonymous`; an operation without `x-rate-limits` counts as `other`.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\n#[non_exhaustive]\n\
         pub enum RateLimitGroup {\n",
    );
    for (name, facts) in groups {
        let _ = writeln!(out, "/// `{name}`.");
        if let Some(d) = &facts.doc {
            out.push_str("///\n");
            push_doc(&mut out, d);
        }
        if !facts.operations.is_empty() {
            let _ = writeln!(
                out,
                "///\n/// Operations: {}.",
                facts
                    .operations
                    .iter()
                    .map(|o| format!("`{o}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let _ = writeln!(out, "{},", pascal(name));
    }
    out.push_str("}\n\nimpl RateLimitGroup {\n");
    let list = |filter: &dyn Fn(&GroupFacts) -> bool| {
        groups
            .iter()
            .filter(|(_, f)| filter(f))
            .map(|(n, _)| format!("RateLimitGroup::{}", pascal(n)))
            .collect::<Vec<_>>()
    };
    let all = list(&|_| true);
    let _ = writeln!(
        out,
        "/// Every group.\npub const ALL: [RateLimitGroup; {}] = [{}];",
        all.len(),
        all.join(", ")
    );
    let _ = writeln!(
        out,
        "/// The groups `GET /rate-limits` reports (the properties of `{REPORTED_GROUPS_SCHEMA}`).\n\
         pub const REPORTED: &'static [RateLimitGroup] = &[{}];",
        list(&|f| f.reported).join(", ")
    );
    let _ = writeln!(
        out,
        "/// The groups the test-data API can set (the properties of `{OVERRIDABLE_GROUPS_SCHEMA}`).\n\
         pub const OVERRIDABLE: &'static [RateLimitGroup] = &[{}];",
        list(&|f| f.overridable).join(", ")
    );
    out.push_str(
        "/// The group's name as the spec and the `/rate-limits` endpoint spell it.\n\
         pub const fn as_str(self) -> &'static str {\nmatch self {\n",
    );
    for (name, _) in groups {
        let _ = writeln!(out, "RateLimitGroup::{} => {name:?},", pascal(name));
    }
    out.push_str(
        "}\n}\n\n/// The group with this wire name.\n\
         pub fn from_wire(name: &str) -> Option<RateLimitGroup> {\n\
         RateLimitGroup::ALL.into_iter().find(|g| g.as_str() == name)\n}\n\n\
         /// The production limits the spec states for the group (its operations' `x-rate-limits`, \
         else the example of `GET /rate-limits`), if it states any.\n\
         pub const fn production(self) -> Option<RateLimit> {\nmatch self {\n",
    );
    for (name, facts) in groups {
        let value = facts.limits.map_or_else(
            || "None".to_owned(),
            |l| {
                format!(
                    "Some(RateLimit::new(self, {}, {}, {}))",
                    l.per_second,
                    opt_u32(l.per_minute),
                    opt_u32(l.per_hour)
                )
            },
        );
        let _ = writeln!(out, "RateLimitGroup::{} => {value},", pascal(name));
    }
    out.push_str("}\n}\n}\n\n");
    out
}

pub(super) fn opt_u32(v: Option<u32>) -> String {
    v.map_or_else(|| "None".to_owned(), |n| format!("Some({n})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_group_is_read_from_the_429_table() {
        let op = serde_json::json!({
            "x-rate-limits": {"perSecond": 8, "perMinute": 16, "perHour": 20},
            "responses": {"429": {"description": "| | req / s | grupa\n| --- | --- |\n| **L** | 8 | invoiceMetadata\n"}}
        });
        let r = rate_limit(&op).unwrap();
        let l = r.limits.unwrap();
        assert_eq!(
            (r.group.as_str(), l.per_second, l.per_minute, l.per_hour),
            ("invoiceMetadata", 8, Some(16), Some(20))
        );
        assert!(r.warning.is_none());
        let public = serde_json::json!({"x-rate-limits": {"perSecond": 60}, "responses": {}});
        assert_eq!(rate_limit(&public).unwrap().group, "anonymous");
        // A group the generator has never seen is simply a new group.
        let brand_new = serde_json::json!({
            "x-rate-limits": {"perSecond": 1, "perMinute": 2},
            "responses": {"429": {"description": "| x | 1 | brandNew\n"}}
        });
        assert_eq!(rate_limit(&brand_new).unwrap().group, "brandNew");
    }

    #[test]
    fn a_missing_rate_limit_is_a_warning_with_the_other_groups_limits() {
        let doc = serde_json::json!({
            "paths": {
                "/a": {"get": {"x-rate-limits": {"perSecond": 3, "perMinute": 4, "perHour": 5},
                    "responses": {"429": {"description": "| L | 3 | 4 | 5 | other\n"}}}},
                "/b": {"post": {"responses": {}}},
                "/c": {"post": {"x-rate-limits": {"perSecond": 9, "perMinute": 9},
                    "responses": {"429": {"description": "| L | 9 | 9 | - | collectiveIdentifier\n"}}}}
            },
            "components": {"schemas": {
                "EffectiveApiRateLimits": {"properties": {
                    "collectiveIdentifier": {"description": "cid"},
                    "global": {}
                }},
                "ApiRateLimitsOverride": {"properties": {"collectiveIdentifier": {}}}
            }}
        });
        let missing = rate_limit(&doc["paths"]["/b"]["post"]).unwrap();
        assert_eq!(missing.group, "other");
        assert!(missing.limits.is_none());
        assert!(missing.warning.unwrap().contains("no x-rate-limits"));
        let (groups, warnings) = rate_limit_groups(&doc).unwrap();
        assert!(
            warnings.iter().any(|w| w.starts_with("POST /b:")),
            "{warnings:?}"
        );
        let names: Vec<&str> = groups.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["collectiveIdentifier", "global", "anonymous", "other"]
        );
        let facts = |n: &str| &groups.iter().find(|(g, _)| g == n).unwrap().1;
        assert_eq!(
            facts("other").limits,
            Some(Limits {
                per_second: 3,
                per_minute: Some(4),
                per_hour: Some(5)
            })
        );
        assert!(
            facts("collectiveIdentifier").reported && facts("collectiveIdentifier").overridable
        );
        assert!(facts("global").reported && !facts("global").overridable);
        assert_eq!(facts("global").limits, None, "no example, no operation");
        let code = render_rate_limit_groups(&groups);
        assert!(code.contains("CollectiveIdentifier,"), "{code}");
        assert!(
            code.contains(
                "RateLimitGroup::Other => Some(RateLimit::new(self, 3, Some(4), Some(5)))"
            ),
            "{code}"
        );
    }
}
