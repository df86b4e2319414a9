//! `slipway init`.

use super::Context;
use crate::Outcome;
use crate::output::{print_json, print_line};
use anyhow::Result;
use slipway_store::Workspace;

pub fn run(ctx: &Context) -> Result<Outcome> {
    let root = std::env::current_dir()?;
    let (ws, created) = Workspace::init(&root)?;
    if ctx.json {
        print_json(&serde_json::json!({
            "root": ws.root().display().to_string(),
            "created": created,
        }))?;
    } else if created {
        print_line(format_args!(
            "Initialised slipway project in {}",
            ws.dir().display()
        ))?;
    } else {
        print_line(format_args!(
            "Already a slipway project: {}",
            ws.dir().display()
        ))?;
    }
    Ok(Outcome::Ok)
}
