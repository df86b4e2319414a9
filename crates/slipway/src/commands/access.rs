//! Who is acting (`--as`, $SLIPWAY_USER, $USER), and `slipway users|tokens`.

use super::Context;
use crate::Outcome;
use crate::cli::{TokensCommand, UsersCommand};
use crate::output::{print_json, print_line, table};
use anyhow::{Result, bail};
use slipway_core::registry::{Actor, Role};
use slipway_core::timefmt::utc;
use slipway_store::Workspace;
use slipway_store::registry::RegistryStore;

/// The name the command acts as.
pub fn user_name(ctx: &Context) -> String {
    ctx.user
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_else(|| "local".into())
}

/// The actor for this command. With no users configured the project is in single-user mode and
/// the local user acts as admin; otherwise the user must exist (and not be disabled).
pub fn actor(ctx: &Context, ws: &Workspace) -> Result<Actor> {
    let name = user_name(ctx);
    let users = ws.meta().users()?;
    if users.is_empty() {
        return Ok(Actor::new(&name, Role::Admin));
    }
    match users.iter().find(|u| u.name == name) {
        Some(u) if u.disabled_ms.is_none() => Ok(Actor::new(&u.name, u.role)),
        Some(_) => bail!(
            "user `{name}` is disabled; ask an admin to re-enable them (`slipway users set-role {name} --role ROLE`)"
        ),
        None => bail!(
            "`{name}` is not a registered user of this project; act as one with --as USER, or ask an admin: `slipway users add {name} --role ROLE`"
        ),
    }
}

fn role(text: &str) -> Result<Role> {
    Ok(text.parse::<Role>()?)
}

pub fn users(ctx: &Context, cmd: UsersCommand) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let now = slipway_store::now_ms();
    match cmd {
        UsersCommand::Add(args) => {
            let wanted = role(&args.role)?;
            let me = user_name(ctx);
            if ws.meta().users()?.is_empty() && (args.name != me || wanted != Role::Admin) {
                bail!(
                    "the first user must be yourself as admin, so that someone can administer the registry: `slipway users add {me} --role admin`"
                );
            }
            let user = ws
                .meta()
                .create_user(&args.name, wanted, &actor(ctx, &ws)?, now)?;
            if ctx.json {
                print_json(&serde_json::json!({"name": user.name, "role": user.role.as_str()}))?;
            } else {
                print_line(format_args!("Added {} as {}", user.name, user.role))?;
            }
        }
        UsersCommand::SetRole(args) => {
            let user = ws.meta().set_user_role(
                &args.name,
                Some(role(&args.role)?),
                &actor(ctx, &ws)?,
                now,
            )?;
            print_line(format_args!("{} is now {}", user.name, user.role))?;
        }
        UsersCommand::Disable(args) => {
            ws.meta()
                .set_user_role(&args.name, None, &actor(ctx, &ws)?, now)?;
            print_line(format_args!(
                "Disabled {}; their tokens no longer work",
                args.name
            ))?;
        }
        UsersCommand::List => {
            let users = ws.meta().users()?;
            if ctx.json {
                let items: Vec<_> = users
                    .iter()
                    .map(|u| serde_json::json!({"name": u.name, "role": u.role.as_str(), "created_ms": u.created_ms, "disabled_ms": u.disabled_ms}))
                    .collect();
                print_json(&serde_json::json!(items))?;
            } else if users.is_empty() {
                print_line("No users: single-user mode (the local user acts as admin).")?;
            } else {
                let mut t = table(&["user", "role", "added", "disabled"]);
                for u in &users {
                    t.add_row(vec![
                        u.name.clone(),
                        u.role.to_string(),
                        utc(u.created_ms),
                        u.disabled_ms.map(utc).unwrap_or_default(),
                    ]);
                }
                print_line(t)?;
            }
        }
    }
    Ok(Outcome::Ok)
}

pub fn tokens(ctx: &Context, cmd: TokensCommand) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let now = slipway_store::now_ms();
    match cmd {
        TokensCommand::Create(args) => {
            let me = actor(ctx, &ws)?;
            let user = args.user.unwrap_or_else(|| me.name.clone());
            let token = ws
                .meta()
                .create_token(&user, args.description.as_deref(), &me, now)?;
            if ctx.json {
                print_json(
                    &serde_json::json!({"id": token.id, "user": user, "token": token.token}),
                )?;
            } else {
                print_line(&token.token)?;
                ctx.messages.say(format_args!(
                    "Token {} for {user}: shown once, stored only hashed. Use it as MLFLOW_TRACKING_TOKEN or `Authorization: Bearer …`.",
                    token.id
                ));
            }
        }
        TokensCommand::List => {
            let tokens = ws.meta().tokens()?;
            if ctx.json {
                let items: Vec<_> = tokens
                    .iter()
                    .map(|t| serde_json::json!({"id": t.id, "user": t.user, "description": t.description, "created_ms": t.created_ms, "revoked_ms": t.revoked_ms}))
                    .collect();
                print_json(&serde_json::json!(items))?;
            } else {
                let mut t = table(&["id", "user", "description", "created", "revoked"]);
                for tok in &tokens {
                    t.add_row(vec![
                        tok.id.clone(),
                        tok.user.clone(),
                        tok.description.clone().unwrap_or_default(),
                        utc(tok.created_ms),
                        tok.revoked_ms.map(utc).unwrap_or_default(),
                    ]);
                }
                print_line(t)?;
            }
        }
        TokensCommand::Revoke(args) => {
            let id = args
                .id
                .strip_prefix("slw_")
                .map(|s| s.split('_').next().unwrap_or(s))
                .unwrap_or(&args.id);
            ws.meta().revoke_token(id, &actor(ctx, &ws)?, now)?;
            print_line(format_args!("Revoked token {id}"))?;
        }
    }
    Ok(Outcome::Ok)
}
