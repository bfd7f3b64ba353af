//! What the documentation generated from a tool's clap command shows: completion scripts offer
//! only what `--help` shows (never a hidden flag such as `--generate`), and man pages name a
//! flag's visible aliases as `--help` does.

use clap::builder::{Resettable, Str, StyledStr};
use clap::{Arg, ArgGroup, Command, Id};
use std::io::Write;

/// Write the completion script of `shell` for `cmd` to `out`, without hidden arguments and
/// hidden subcommands (at every depth).
pub fn write_completions(
    shell: clap_complete::Shell,
    cmd: &Command,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut visible = without_hidden(cmd);
    let name = cmd.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut visible, name.as_str(), &mut script);
    if shell == clap_complete::Shell::Bash {
        script = bash_states_spelled_alike(&script, &name);
    }
    out.write_all(&script)
}

/// clap_complete (4.6.12 and before, clap-rs/clap#6421) spells the state of a subcommand of a
/// tool with a `-` in its name one way where it sets it (`job__pack__subcmd__tar`) and another
/// in the `case` arm that completes it (`job__subcmd__pack__subcmd__tar`), so nothing after a
/// subcommand completes. Spell the arms as the states are set; a script without the mismatch
/// is left as it is.
fn bash_states_spelled_alike(script: &[u8], bin_name: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(script);
    let arm = format!("{}__subcmd__", bin_name.replace('-', "__subcmd__"));
    let state = format!("{}__subcmd__", bin_name.replace('-', "__"));
    text.replace(&format!("        {arm}"), &format!("        {state}"))
        .into_bytes()
}

/// `cmd` without its hidden arguments and hidden subcommands, at every depth: what completions
/// offer. clap cannot remove an argument, so the command is built anew from what it shows:
/// names, texts, the settings clap checks, the visible arguments (with their conflicts among
/// themselves) and groups of them.
pub fn without_hidden(cmd: &Command) -> Command {
    let hidden: Vec<&Id> = cmd
        .get_arguments()
        .filter(|a| a.is_hide_set())
        .map(Arg::get_id)
        .collect();
    let args: Vec<Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .map(|a| without_relations_to(cmd, a, &hidden))
        .collect();
    let groups: Vec<ArgGroup> = cmd
        .get_groups()
        .filter_map(|g| group_without(g, &hidden))
        .collect();
    let subcommands: Vec<Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(without_hidden)
        .collect();
    with_names_and_settings_of(cmd)
        .args(args)
        .groups(groups)
        .subcommands(subcommands)
}

/// A new command with `cmd`'s names, aliases, texts and the settings that shape its parser.
fn with_names_and_settings_of(cmd: &Command) -> Command {
    let mut new = Command::new(cmd.get_name().to_string())
        .bin_name(maybe(cmd.get_bin_name().map(str::to_string)))
        .display_name(maybe(cmd.get_display_name().map(str::to_string)))
        .version(maybe(cmd.get_version().map(|s| Str::from(s.to_string()))))
        .long_version(maybe(
            cmd.get_long_version().map(|s| Str::from(s.to_string())),
        ))
        .about(maybe(cmd.get_about().cloned()))
        .long_about(maybe(cmd.get_long_about().cloned()))
        .short_flag(cmd.get_short_flag())
        .visible_aliases(cmd.get_visible_aliases().map(str::to_string))
        .visible_short_flag_aliases(cmd.get_visible_short_flag_aliases())
        .visible_long_flag_aliases(cmd.get_visible_long_flag_aliases().map(str::to_string))
        .subcommand_value_name(maybe(
            cmd.get_subcommand_value_name()
                .map(|s| Str::from(s.to_string())),
        ))
        .disable_help_flag(cmd.is_disable_help_flag_set())
        .disable_version_flag(cmd.is_disable_version_flag_set())
        .disable_help_subcommand(cmd.is_disable_help_subcommand_set())
        .propagate_version(cmd.is_propagate_version_set())
        .subcommand_required(cmd.is_subcommand_required_set())
        .arg_required_else_help(cmd.is_arg_required_else_help_set())
        .args_conflicts_with_subcommands(cmd.is_args_conflicts_with_subcommands_set())
        .subcommand_negates_reqs(cmd.is_subcommand_negates_reqs_set())
        .subcommand_precedence_over_arg(cmd.is_subcommand_precedence_over_arg_set())
        .allow_missing_positional(cmd.is_allow_missing_positional_set())
        .trailing_var_arg(cmd.is_trailing_var_arg_set())
        .allow_negative_numbers(cmd.is_allow_negative_numbers_set())
        .multicall(cmd.is_multicall_set());
    if let Some(long) = cmd.get_long_flag() {
        new = new.long_flag(long.to_string());
    }
    if let Some(parser) = cmd.get_external_subcommand_value_parser() {
        new = new.external_subcommand_value_parser(parser.clone());
    }
    new
}

/// A setting that is given or reset.
fn maybe<T>(value: Option<T>) -> Resettable<T> {
    value.into()
}

/// `arg` (of `cmd`) with its conflicts kept only among the arguments that stay; the "requires"
/// and "required unless" rules dropped (completions do not read them, and they may name an
/// argument that goes).
fn without_relations_to(cmd: &Command, arg: &Arg, hidden: &[&Id]) -> Arg {
    let kept = arg
        .clone()
        .requires(Resettable::Reset)
        .required_unless_present(Resettable::Reset);
    if arg.is_global_set() {
        // A global argument's conflicts are looked up in the subcommands too; ours have none.
        return kept;
    }
    let conflicts: Vec<Id> = cmd
        .get_arg_conflicts_with(arg)
        .into_iter()
        .map(|a| a.get_id().clone())
        .filter(|id| !hidden.contains(&id))
        .collect();
    kept.conflicts_with(Resettable::Reset)
        .conflicts_with_all(conflicts)
}

/// `group` without the hidden arguments; none when nothing of it stays.
fn group_without(group: &ArgGroup, hidden: &[&Id]) -> Option<ArgGroup> {
    let args: Vec<Id> = group
        .get_args()
        .filter(|id| !hidden.contains(id))
        .cloned()
        .collect();
    if args.is_empty() {
        return None;
    }
    // `ArgGroup::is_multiple` takes `&mut self`.
    let multiple = group.clone().is_multiple();
    Some(
        ArgGroup::new(group.get_id().clone())
            .args(args)
            .multiple(multiple)
            .required(group.is_required_set()),
    )
}

/// `cmd` with each argument's visible aliases at the end of its help, as `--help` shows them
/// (`[alias: --r2]`): man pages do not name them otherwise.
pub fn with_aliases_in_help(cmd: Command) -> Command {
    cmd.mut_args(|arg| {
        let Some(aliases) = arg.get_visible_aliases() else {
            return arg;
        };
        let spelled: Vec<String> = aliases.iter().map(|a| format!("--{a}")).collect();
        let word = if spelled.len() == 1 {
            "alias"
        } else {
            "aliases"
        };
        let note = format!("[{word}: {}]", spelled.join(", "));
        let help = |text: Option<&StyledStr>| match text {
            Some(t) => StyledStr::from(format!("{t}\n\n{note}")),
            None => StyledStr::from(note.clone()),
        };
        let long = help(arg.get_long_help().or(arg.get_help()));
        let short = help(arg.get_help());
        arg.help(short).long_help(long)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

    use super::*;
    use clap::ArgAction;

    /// A command with a hidden flag at the top and in a subcommand, a hidden subcommand, a
    /// positional required unless the hidden flag is given, and conflicts.
    fn sample() -> Command {
        Command::new("tool")
            .version("1")
            .arg(Arg::new("files").required_unless_present("secret"))
            .arg(
                Arg::new("secret")
                    .long("secret-top")
                    .hide(true)
                    .action(ArgAction::SetTrue),
            )
            .arg(
                Arg::new("count")
                    .long("count")
                    .conflicts_with_all(["info", "secret"])
                    .action(ArgAction::SetTrue),
            )
            .arg(Arg::new("info").long("info").action(ArgAction::SetTrue))
            .subcommand(
                Command::new("sub")
                    .arg(
                        Arg::new("deep")
                            .long("deep-visible")
                            .action(ArgAction::SetTrue),
                    )
                    .arg(
                        Arg::new("deephidden")
                            .long("deep-hidden")
                            .hide(true)
                            .action(ArgAction::SetTrue),
                    ),
            )
            .subcommand(Command::new("ghost").hide(true))
    }

    fn script(shell: clap_complete::Shell) -> String {
        let mut out = Vec::new();
        write_completions(shell, &sample(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn completions_offer_visible_flags_and_no_hidden_ones_at_any_depth() {
        use clap_complete::Shell;
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let s = script(shell);
            for gone in ["secret-top", "deep-hidden", "ghost"] {
                assert!(!s.contains(gone), "{shell}: offers {gone}:\n{s}");
            }
            for kept in ["count", "info", "deep-visible", "sub"] {
                assert!(s.contains(kept), "{shell}: lacks {kept}:\n{s}");
            }
        }
    }

    #[test]
    fn completions_keep_conflicts_among_visible_flags() {
        let zsh = script(clap_complete::Shell::Zsh);
        assert!(zsh.contains("'(--info)--count["), "{zsh}");
    }

    #[test]
    fn visible_aliases_are_added_to_the_help_only_where_there_are_some() {
        let cmd = with_aliases_in_help(
            Command::new("t")
                .arg(
                    Arg::new("a")
                        .long("relion2")
                        .visible_alias("r2")
                        .help("Old layout"),
                )
                .arg(Arg::new("b").long("plain").help("Plain")),
        );
        let arg = |id: &str| cmd.get_arguments().find(|a| a.get_id() == id).unwrap();
        let long = arg("a").get_long_help().unwrap().to_string();
        assert_eq!(long, "Old layout\n\n[alias: --r2]");
        assert_eq!(arg("b").get_help().unwrap().to_string(), "Plain");
        assert!(arg("b").get_long_help().is_none());
    }
}
