//! `rewrite validate`: the service's own checks, with messages that say where to look.

use crate::ValidateArgs;
use crate::inputs::load_rules;

pub fn run(args: &ValidateArgs) -> Result<i32, String> {
    let loaded = load_rules(&args.path)?;
    for error in &loaded.errors {
        println!("{}", loaded.source.describe(error));
    }
    // Warnings do not fail the check: the rules apply, though likely not as meant.
    for warning in loaded.rules.warnings() {
        println!("warning: {}", loaded.source.describe_warning(warning));
    }
    let rules = loaded.rules.len() + loaded.rules.disabled_ids().count();
    let problems = loaded.errors.len();
    println!(
        "{}: {rules} valid rule(s) in {} entr{}, {problems} problem{}",
        args.path.display(),
        loaded.entries,
        if loaded.entries == 1 { "y" } else { "ies" },
        if problems == 1 { "" } else { "s" }
    );
    Ok(if problems > 0 { 1 } else { 0 })
}
