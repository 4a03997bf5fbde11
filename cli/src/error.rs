//! The one-line errors the command line reports (then exits 1).

use crate::getopt::GetoptError;
use passt_core::Mode;
use std::fmt;

/// Why the command line was rejected. `Display` gives one line naming the offending
/// option, without the `prog: ` prefix (the binary adds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// A syntax error: unknown or ambiguous option, missing or surplus argument.
    Syntax(GetoptError),
    /// An option of the other program (`--netns` given to passt, `-s` to pasta).
    WrongMode {
        /// The option, as `-x` or `--long`.
        option: String,
        /// The program it belongs to.
        only_for: Mode,
    },
    /// An option's argument is not acceptable.
    InvalidValue {
        /// The option, as `-x` or `--long`.
        option: String,
        /// What was expected ("port specifier", "MTU", "address"…).
        what: &'static str,
        /// The argument as given (lossily decoded).
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// Two options (or an option and an operand) that can't be combined.
    Conflict {
        /// The option, as `-x` or `--long`.
        option: String,
        /// What it clashes with.
        with: String,
    },
    /// An option that only makes sense together with another.
    Requires {
        /// The option, as `-x` or `--long`.
        option: String,
        /// What it needs.
        needs: String,
    },
    /// pasta's single all-digit operand is not a usable process ID.
    InvalidPid(String),
    /// An operand passt doesn't take (passt has no operands).
    UnexpectedOperand(String),
}

impl fmt::Display for CliError {
    /// One line, always: a rejected argument containing control characters (a line
    /// break, say) is shown escaped, so callers that read our first line still get
    /// the whole message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.unescaped().to_string();
        for c in text.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

/// The message with arguments as given (see [`CliError`]'s `Display`).
struct Unescaped<'e>(&'e CliError);

impl CliError {
    fn unescaped(&self) -> Unescaped<'_> {
        Unescaped(self)
    }
}

impl fmt::Display for Unescaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            CliError::Syntax(e) => e.fmt(f),
            CliError::WrongMode { option, only_for } => {
                let prog = match only_for {
                    Mode::Pasta => "pasta",
                    Mode::Passt => "passt",
                };
                write!(f, "option '{option}' is for {prog} only")
            }
            CliError::InvalidValue {
                option,
                what,
                value,
                reason,
            } => write!(f, "Invalid {what} {value} for option '{option}': {reason}"),
            CliError::Conflict { option, with } => {
                write!(f, "option '{option}' can't be combined with {with}")
            }
            CliError::Requires { option, needs } => {
                write!(f, "option '{option}' requires {needs}")
            }
            CliError::InvalidPid(word) => write!(f, "Invalid PID {word}"),
            CliError::UnexpectedOperand(word) => {
                write!(f, "unexpected non-option argument '{word}'")
            }
        }
    }
}

impl std::error::Error for CliError {}

impl From<GetoptError> for CliError {
    fn from(e: GetoptError) -> Self {
        CliError::Syntax(e)
    }
}
