//! The command line of `skyshop-local` (`skyshop-local --help` shows it), and [`parse`], which
//! both binaries (`skyshop-local`, `skyshop-bench`) parse their arguments with.
//!
//! `scripts/dev` runs `serve`, `scripts/seed` runs `seed [--synthetic N] [--concurrency C]`,
//! `scripts/signing-key` runs `signing-key …`, `scripts/bench` runs `serve` and `seed`.

use std::ffi::OsString;

use clap::{Args, CommandFactory, Parser, Subcommand};

/// Parses the process arguments as `T`; on an error (or `--help`) prints it and exits.
pub fn parse<T: Parser>() -> T {
    try_parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
}

/// Parses `args` (the program name first) as `T`, with [`command`]'s usage lines.
pub fn try_parse_from<T: Parser>(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> Result<T, clap::Error> {
    let mut command = command::<T>();
    let matches = command.try_get_matches_from_mut(args)?;
    T::from_arg_matches(&matches).map_err(|e| e.format(&mut command))
}

/// `T`'s command, where every level's usage names its commands
/// (`skyshop-local [serve|provision|…]` rather than `skyshop-local [COMMAND]`), so that the error
/// for an unknown command lists the known ones.
pub fn command<T: CommandFactory>() -> clap::Command {
    name_subcommands(T::command())
}

fn name_subcommands(command: clap::Command) -> clap::Command {
    let names: Vec<&str> = command.get_subcommands().map(clap::Command::get_name).collect();
    if names.is_empty() {
        return command;
    }
    let names = names.join("|");
    command.subcommand_value_name(names).mut_subcommands(name_subcommands)
}

/// The Skyshop local cloud: template.yaml served on one machine against the stand-ins
/// (DynamoDB Local, moto, Redis).
///
/// Settings come from the environment: PORT (3000), SKYSHOP_ADMIN_PASSWORD (the admin's and
/// demo seller's password; generated when unset), and the stand-ins' endpoints that scripts/dev
/// sets.
#[derive(Debug, Parser)]
#[command(name = "skyshop-local")]
pub struct Cli {
    /// What to do; `serve` when none is given.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The command to run: `serve` when none was given.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Serve)
    }
}

/// The commands of `skyshop-local`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Provision the template on the stand-ins and serve the API on 127.0.0.1:$PORT, with
    /// event sources running (the default)
    Serve,
    /// Only create the tables, queues, secret and SES identity, then exit
    Provision,
    /// Load the DummyJSON catalog (194 products) and its stock for the demo seller
    Seed(SeedArgs),
    /// Rebuild the local search index from the catalog table (stop `serve` first: the
    /// embedded index has one writer)
    Reindex,
    /// Rewrite the sample events under events/ from the template
    Events,
    /// Manage the signing-key secret (works against AWS too: without endpoint overrides it uses
    /// your AWS credentials)
    #[command(subcommand)]
    SigningKey(SigningKeyCommand),
}

/// `skyshop-local seed [--synthetic N] [--concurrency C]`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Also generate N synthetic products (SYN-1 … SYN-N, at most 1,000,000; `_` separators
    /// allowed), written in bulk
    #[arg(long, value_name = "N", value_parser = count)]
    pub synthetic: Option<u64>,
    /// DynamoDB requests in flight while writing the synthetic products (clamped to 1–256)
    #[arg(long, value_name = "C", value_parser = count, default_value_t = shop_seed::catalog::SYNTHETIC_CONCURRENCY as u64)]
    pub concurrency: u64,
}

/// `skyshop-local signing-key list|add|activate <kid>|remove <kid> --secret-id <id>`.
#[derive(Debug, Subcommand)]
pub enum SigningKeyCommand {
    /// List the keys, the active one marked, with their creation times
    List(SecretId),
    /// Generate a key: published in the JWKS now, signing once activated
    Add(SecretId),
    /// Make a published key the signing key
    Activate {
        /// The key's id (as `list` shows it)
        kid: String,
        #[command(flatten)]
        secret: SecretId,
    },
    /// Remove a key that is not active (after the 15-minute access-token lifetime)
    Remove {
        /// The key's id (as `list` shows it)
        kid: String,
        #[command(flatten)]
        secret: SecretId,
    },
}

impl SigningKeyCommand {
    /// The secret the command works on.
    pub fn secret_id(&self) -> &str {
        match self {
            Self::List(s) | Self::Add(s) | Self::Activate { secret: s, .. } | Self::Remove { secret: s, .. } => &s.secret_id,
        }
    }
}

/// The signing-key secret a `signing-key` command works on.
#[derive(Debug, Args)]
pub struct SecretId {
    /// The secret's name or ARN
    #[arg(long, value_name = "ID")]
    pub secret_id: String,
}

/// A count such as `100000` or `100_000`.
pub fn count(value: &str) -> Result<u64, String> {
    value.replace('_', "").parse().map_err(|e| format!("not a whole number ({e})"))
}

#[cfg(test)]
mod tests {
    use super::{Cli, Command, SigningKeyCommand};

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        super::try_parse_from::<Cli>(std::iter::once("skyshop-local").chain(args.iter().copied())).map(Cli::into_command)
    }

    #[test]
    fn the_command_line_is_consistent() {
        super::command::<Cli>().debug_assert();
    }

    #[test]
    fn the_usage_names_every_command() {
        let mut command = super::command::<Cli>();
        assert_eq!(command.render_usage().to_string(), "Usage: skyshop-local [serve|provision|seed|reindex|events|signing-key]");
        let signing_key = command.find_subcommand_mut("signing-key").expect("signing-key");
        assert!(signing_key.render_usage().to_string().ends_with("signing-key <list|add|activate|remove>"));
    }

    #[test]
    fn the_invocations_of_the_scripts_parse() {
        let invocations: [&[&str]; 10] = [
            &["serve"],                                                  // scripts/dev, scripts/bench
            &["seed"],                                                   // scripts/seed, scripts/bench
            &["seed", "--synthetic", "100000"],                          // scripts/bench
            &["seed", "--synthetic", "1_000", "--concurrency", "32"],    // scripts/seed --synthetic N --concurrency C
            &["signing-key", "list", "--secret-id", "skyshop-dev-keys"], // scripts/signing-key …
            &["signing-key", "add", "--secret-id", "skyshop-dev-keys"],
            &["signing-key", "activate", "k-1", "--secret-id", "arn:aws:secretsmanager:eu-west-1:1:secret:k"],
            &["signing-key", "remove", "k-1", "--secret-id", "skyshop-dev-keys"],
            &["events"], // cargo run --bin skyshop-local -- events
            &["reindex"],
        ];
        for args in invocations {
            assert!(parse(args).is_ok(), "{args:?}");
        }
    }

    #[test]
    fn no_command_serves() {
        assert!(matches!(parse(&[]), Ok(Command::Serve)));
        assert!(matches!(parse(&["serve"]), Ok(Command::Serve)));
    }

    #[test]
    fn seed_takes_counts_with_separators_and_defaults_its_concurrency() {
        let Ok(Command::Seed(seed)) = parse(&["seed", "--synthetic", "100_000", "--concurrency", "32"]) else { panic!("not a seed") };
        assert_eq!((seed.synthetic, seed.concurrency), (Some(100_000), 32));
        let Ok(Command::Seed(seed)) = parse(&["seed"]) else { panic!("not a seed") };
        assert_eq!((seed.synthetic, seed.concurrency), (None, 16));
        assert!(parse(&["seed", "--synthetic"]).is_err());
        assert!(parse(&["seed", "--synthetic", "many"]).is_err());
        assert!(parse(&["seed", "--products", "3"]).is_err());
    }

    #[test]
    fn signing_key_commands_need_a_secret_id_and_take_it_after_the_kid() {
        let Ok(Command::SigningKey(command)) = parse(&["signing-key", "activate", "k-1", "--secret-id", "s"]) else {
            panic!("not a signing-key command")
        };
        assert!(matches!(&command, SigningKeyCommand::Activate { kid, .. } if kid == "k-1"));
        assert_eq!(command.secret_id(), "s");
        assert!(matches!(parse(&["signing-key", "list", "--secret-id", "s"]), Ok(Command::SigningKey(SigningKeyCommand::List(_)))));
        assert!(parse(&["signing-key", "add"]).is_err());
        assert!(parse(&["signing-key", "remove", "--secret-id", "s"]).is_err());
    }

    #[test]
    fn an_unknown_command_is_refused_with_the_known_ones() {
        let error = parse(&["deploy"]).expect_err("deploy is no command").to_string();
        assert!(error.contains("unrecognized subcommand 'deploy'"), "{error}");
        assert!(error.contains("[serve|provision|seed|reindex|events|signing-key]"), "{error}");
    }
}
