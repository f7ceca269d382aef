//! Reading the spanned TOML tree: typed getters that record an error (with the value's
//! position and key path) instead of stopping, so one pass reports every problem.

use crate::core::units;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

pub(super) use super::errors::Ctx;
use super::paths;

pub(super) type Value<'i> = Spanned<DeValue<'i>>;

/// The TOML type of a value, as an error names it.
pub(super) fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn int_of(v: &DeValue<'_>) -> Option<i64> {
    match v {
        DeValue::Integer(i) => {
            let s: String = i.as_str().chars().filter(|c| *c != '_').collect();
            let (neg, s) = match s.strip_prefix('-') {
                Some(r) => (true, r.to_string()),
                None => (false, s.trim_start_matches('+').to_string()),
            };
            let digits = match i.radix() {
                16 => s.trim_start_matches("0x").to_string(),
                8 => s.trim_start_matches("0o").to_string(),
                2 => s.trim_start_matches("0b").to_string(),
                _ => s,
            };
            i64::from_str_radix(&digits, i.radix())
                .ok()
                .map(|n| if neg { -n } else { n })
        }
        _ => None,
    }
}

/// One TOML table with the key path that leads to it.
pub(super) struct Table<'t, 'i> {
    pub(crate) t: &'t DeTable<'i>,
    pub(crate) path: String,
    /// Where to point when a required key is missing: the table's own key.
    pub(crate) span: Range<usize>,
}

impl<'t, 'i> Table<'t, 'i> {
    pub(crate) fn key_path(&self, key: &str) -> String {
        // A key can be any length; a message names it, it doesn't reproduce a megabyte.
        let short;
        let key = if key.len() > 80 && key.chars().count() > 80 {
            short = format!("{}…", key.chars().take(80).collect::<String>());
            short.as_str()
        } else {
            key
        };
        if self.path.is_empty() {
            key.to_string()
        } else {
            let mut p = String::with_capacity(self.path.len() + 1 + key.len());
            p.push_str(&self.path);
            p.push('.');
            p.push_str(key);
            p
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'t Value<'i>> {
        self.t.get(key)
    }

    /// Every key not in `allowed` is an error (typos are the commonest mistake).
    pub(crate) fn check_keys(&self, ctx: &mut Ctx<'_>, allowed: &[&str], what: &str) {
        for (k, _) in self.t.iter() {
            if !allowed.contains(&k.get_ref().as_ref()) {
                let hint = (k.get_ref().len() <= 80)
                    .then(|| close_match(k.get_ref(), allowed))
                    .flatten()
                    .map(|m| format!(" (did you mean {m:?}?)"))
                    .unwrap_or_default();
                ctx.err(
                    k.span(),
                    &self.key_path(k.get_ref()),
                    format!("unknown key{hint}; {what} takes: {}", allowed.join(", ")),
                );
            }
        }
    }

    pub(crate) fn entries(
        &self,
    ) -> impl Iterator<Item = (&'t Spanned<std::borrow::Cow<'i, str>>, &'t Value<'i>)> {
        self.t.iter()
    }

    pub(crate) fn required(
        &self,
        ctx: &mut Ctx<'_>,
        key: &str,
        expected: &str,
    ) -> Option<&'t Value<'i>> {
        let v = self.get(key);
        if v.is_none() {
            ctx.err(
                self.span.clone(),
                &self.key_path(key),
                format!("missing required key ({expected})"),
            );
        }
        v
    }

    fn wrong(&self, ctx: &mut Ctx<'_>, key: &str, v: &Value<'_>, expected: &str) {
        ctx.err(
            v.span(),
            &self.key_path(key),
            format!("expected {expected}, found {}", type_name(v.get_ref())),
        );
    }

    pub(crate) fn str(&self, ctx: &mut Ctx<'_>, key: &str) -> Option<String> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.wrong(ctx, key, v, "a string");
                None
            }
        }
    }

    pub(crate) fn bool(&self, ctx: &mut Ctx<'_>, key: &str) -> Option<bool> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong(ctx, key, v, "true or false");
                None
            }
        }
    }

    pub(crate) fn int(&self, ctx: &mut Ctx<'_>, key: &str, min: i64) -> Option<i64> {
        let v = self.get(key)?;
        match int_of(v.get_ref()) {
            Some(n) if n >= min => Some(n),
            Some(n) => {
                ctx.err(
                    v.span(),
                    &self.key_path(key),
                    format!("expected an integer ≥ {min}, found {n}"),
                );
                None
            }
            None => {
                self.wrong(ctx, key, v, &format!("an integer ≥ {min}"));
                None
            }
        }
    }

    /// An array of integers, each ≥ `min`.
    pub(crate) fn ints(&self, ctx: &mut Ctx<'_>, key: &str, min: i64) -> Option<Vec<i64>> {
        let v = self.get(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong(ctx, key, v, &format!("an array of integers ≥ {min}"));
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match int_of(item.get_ref()) {
                Some(n) if n >= min => out.push(n),
                found => {
                    let found = found
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| type_name(item.get_ref()).to_string());
                    ctx.err(
                        item.span(),
                        &format!("{}[{i}]", self.key_path(key)),
                        format!("expected an integer ≥ {min}, found {found}"),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// An integer or float ≥ 0.
    pub(crate) fn number(&self, ctx: &mut Ctx<'_>, key: &str) -> Option<f64> {
        let v = self.get(key)?;
        number_of(ctx, v, || self.key_path(key))
    }

    pub(crate) fn strings(&self, ctx: &mut Ctx<'_>, key: &str) -> Option<Vec<String>> {
        let v = self.get(key)?;
        strings_of(ctx, v, || self.key_path(key))
    }

    /// A string, or an array of strings (`command`, `at`).
    pub(crate) fn str_or_strings(&self, ctx: &mut Ctx<'_>, key: &str) -> Option<StrOrList> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(StrOrList::Str(s.to_string())),
            DeValue::Array(_) => strings_of(ctx, v, || self.key_path(key)).map(StrOrList::List),
            _ => {
                self.wrong(ctx, key, v, "a string or an array of strings");
                None
            }
        }
    }

    pub(crate) fn duration(&self, ctx: &mut Ctx<'_>, key: &str, min: Duration) -> Option<Duration> {
        let v = self.get(key)?;
        let DeValue::String(s) = v.get_ref() else {
            let hint = if matches!(v.get_ref(), DeValue::Integer(_) | DeValue::Float(_)) {
                " with a unit, e.g. \"30s\" (a bare number is ambiguous)"
            } else {
                " (e.g. \"500ms\", \"10s\", \"5m\", \"1h30m\", \"2d\")"
            };
            ctx.err(
                v.span(),
                &self.key_path(key),
                format!(
                    "expected a duration string{hint}, found {}",
                    type_name(v.get_ref())
                ),
            );
            return None;
        };
        match units::parse_duration(s) {
            Ok(d) if d >= min => Some(d),
            Ok(_) => {
                ctx.err(
                    v.span(),
                    &self.key_path(key),
                    format!(
                        "expected a duration ≥ {}, found {s:?}",
                        units::format_duration(min)
                    ),
                );
                None
            }
            Err(e) => {
                ctx.err(
                    v.span(),
                    &self.key_path(key),
                    format!("expected a duration: {e}"),
                );
                None
            }
        }
    }

    pub(crate) fn size(&self, ctx: &mut Ctx<'_>, key: &str) -> Option<u64> {
        let v = self.get(key)?;
        let parsed = match v.get_ref() {
            DeValue::String(s) => units::parse_size(s),
            other => match int_of(other) {
                Some(n) if n >= 0 => Ok(n as u64),
                _ => Err(format!("found {}", type_name(other))),
            },
        };
        match parsed {
            Ok(n) if n >= 1024 => Some(n),
            Ok(n) => {
                ctx.err(
                    v.span(),
                    &self.key_path(key),
                    format!("expected a size ≥ 1KiB, found {n} bytes"),
                );
                None
            }
            Err(e) => {
                ctx.err(
                    v.span(),
                    &self.key_path(key),
                    format!("expected a size like \"10MiB\" or a byte count: {e}"),
                );
                None
            }
        }
    }

    pub(crate) fn table(&self, ctx: &mut Ctx<'_>, key: &str) -> Option<Table<'t, 'i>> {
        let v = self.get(key)?;
        let span = self
            .t
            .iter()
            .find(|(k, _)| k.get_ref() == key)
            .map(|(k, _)| k.span())
            .unwrap_or(v.span());
        match v.get_ref() {
            DeValue::Table(t) => Some(Table {
                t,
                path: self.key_path(key),
                span,
            }),
            _ => {
                self.wrong(ctx, key, v, "a table");
                None
            }
        }
    }

    /// A table of string → string (`env`).
    pub(crate) fn str_map(&self, ctx: &mut Ctx<'_>, key: &str) -> Option<Vec<(String, String)>> {
        let t = self.table(ctx, key)?;
        let mut out = Vec::new();
        for (k, v) in t.entries() {
            match v.get_ref() {
                DeValue::String(s) => out.push((k.get_ref().to_string(), s.to_string())),
                other => ctx.err(
                    v.span(),
                    &t.key_path(k.get_ref()),
                    format!("expected a string, found {}", type_name(other)),
                ),
            }
        }
        Some(out)
    }

    /// A path value: `~` and `$VAR` expanded, relative to the config file's directory.
    pub(crate) fn path(&self, ctx: &mut Ctx<'_>, key: &str) -> Option<PathBuf> {
        let v = self.get(key)?;
        let s = self.str(ctx, key)?;
        match paths::expand_path(&s, &ctx.dir, &mut ctx.inputs) {
            Ok(p) => Some(p),
            Err(e) => {
                ctx.err(
                    v.span(),
                    &self.key_path(key),
                    format!("expected a path: {e}"),
                );
                None
            }
        }
    }
}

pub(super) enum StrOrList {
    Str(String),
    List(Vec<String>),
}

/// `path` names the value in an error; it is only built when there is one.
pub(super) fn strings_of(
    ctx: &mut Ctx<'_>,
    v: &Value<'_>,
    path: impl Fn() -> String,
) -> Option<Vec<String>> {
    let DeValue::Array(items) = v.get_ref() else {
        ctx.err(
            v.span(),
            &path(),
            format!(
                "expected an array of strings, found {}",
                type_name(v.get_ref())
            ),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match item.get_ref() {
            DeValue::String(s) => out.push(s.to_string()),
            other => {
                ctx.err(
                    item.span(),
                    &format!("{}[{i}]", path()),
                    format!("expected a string, found {}", type_name(other)),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

pub(super) fn number_of(
    ctx: &mut Ctx<'_>,
    v: &Value<'_>,
    path: impl Fn() -> String,
) -> Option<f64> {
    let n = match v.get_ref() {
        DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
        other => int_of(other).map(|i| i as f64),
    };
    match n {
        Some(n) if n.is_finite() && n >= 0.0 => Some(n),
        Some(n) => {
            ctx.err(
                v.span(),
                &path(),
                format!("expected a number ≥ 0, found {n}"),
            );
            None
        }
        None => {
            ctx.err(
                v.span(),
                &path(),
                format!("expected a number ≥ 0, found {}", type_name(v.get_ref())),
            );
            None
        }
    }
}

/// ` (did you mean "x"?)` for a value that is not one of `candidates`, or nothing.
pub(super) fn value_hint<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    crate::core::names::closest(given, candidates)
        .map(|m| format!(" (did you mean {m:?}?)"))
        .unwrap_or_default()
}

/// The allowed key closest to a typo, if any is close.
fn close_match<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    crate::core::names::closest(key, allowed.iter().copied())
}
