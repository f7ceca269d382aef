//! Turning the text of a config file into a validated [`Config`]: parse the TOML (every
//! syntax error reported), then walk its sections, collecting every problem with its
//! place in the file.

use std::path::Path;

use toml::de::DeTable;

use super::Config;
use super::inputs::Inputs;
use super::walk::{Ctx, Table};
use crate::core::error::ConfigErrors;

pub(super) fn parse_config(path: &Path, src: &str) -> Result<(Config, Inputs), ConfigErrors> {
    let mut ctx = Ctx::new(path, src);
    let (doc, syntax) = DeTable::parse_recoverable(src);
    if !syntax.is_empty() {
        for e in syntax {
            let span = e.span().unwrap_or(0..0);
            let msg = e
                .message()
                .lines()
                .next()
                .unwrap_or("invalid TOML")
                .trim()
                .to_string();
            ctx.err(span, "", format!("invalid TOML: {msg}"));
        }
        return Err(ctx.into_errors());
    }
    let root = Table {
        t: doc.get_ref(),
        path: String::new(),
        span: 0..0,
    };
    let config = super::sections::build(&mut ctx, &root, path);
    match config {
        Some(c) if !ctx.has_errors() => Ok((c, ctx.inputs)),
        _ => Err(ctx.into_errors()),
    }
}
