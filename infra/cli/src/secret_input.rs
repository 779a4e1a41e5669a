//! Passwords and secrets the operator gives a command (`users add`,
//! `users set-password`, `webhooks set-secret`): never on the command line,
//! where `ps` and shell history would show them.
//!
//! At a terminal the command prompts and reads with echo off (a new
//! password twice, compared); otherwise (a script piping it in) it reads
//! the first line of standard input, with no prompt.

use std::io::{BufRead, IsTerminal as _};

use secrecy::{ExposeSecret as _, SecretString};
use warden::Error;

/// Where the secret comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Standard input is a terminal: prompt, read with echo off.
    Terminal,
    /// Standard input is a pipe or a file: its first line, no prompt.
    Piped,
}

impl Source {
    /// Where this process's secret comes from: the terminal when standard
    /// input is one.
    pub fn of_stdin() -> Self {
        if std::io::stdin().is_terminal() {
            Source::Terminal
        } else {
            Source::Piped
        }
    }
}

/// What to ask for.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    /// The prompt, e.g. `Password for alice: `.
    pub prompt: &'a str,
    /// What it is, for errors: `the password`.
    pub what: &'a str,
    /// Ask twice at a terminal and compare (a new password: a typo would
    /// lock its owner out).
    pub confirm: bool,
}

/// Reads the secret `ask` describes from `source`: at a terminal through
/// `prompt_tty` (which prompts and reads without echo), else the first line
/// of `piped` without its line ending. No error quotes what was typed.
pub fn read(
    source: Source,
    ask: Ask<'_>,
    mut prompt_tty: impl FnMut(&str) -> std::io::Result<String>,
    mut piped: impl BufRead,
) -> Result<SecretString, Error> {
    let reading =
        |e: std::io::Error| Error::BadRequest(format!("reading {}: {}", ask.what, e.kind()));
    match source {
        Source::Piped => {
            let mut line = String::new();
            piped.read_line(&mut line).map_err(reading)?;
            Ok(SecretString::from(
                line.trim_end_matches(['\r', '\n']).to_owned(),
            ))
        }
        Source::Terminal => {
            let first = SecretString::from(prompt_tty(ask.prompt).map_err(reading)?);
            if ask.confirm {
                let again = SecretString::from(prompt_tty("Again, to confirm: ").map_err(reading)?);
                if again.expose_secret() != first.expose_secret() {
                    return Err(Error::BadRequest(format!(
                        "the two entries of {} differ; nothing was changed",
                        ask.what
                    )));
                }
            }
            Ok(first)
        }
    }
}

/// [`read`] for this process: standard input, or the terminal through
/// `rpassword` (prompt and input on the terminal, echo off).
pub fn read_stdin(ask: Ask<'_>) -> Result<SecretString, Error> {
    read(
        Source::of_stdin(),
        ask,
        |prompt: &str| rpassword::prompt_password(prompt),
        std::io::stdin().lock(),
    )
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn ask(confirm: bool) -> Ask<'static> {
        Ask {
            prompt: "Password for alice: ",
            what: "the password",
            confirm,
        }
    }

    #[test]
    fn piped_input_is_its_first_line_without_a_prompt() {
        let never = |_: &str| -> std::io::Result<String> { panic!("prompted on a pipe") };
        let got = read(
            Source::Piped,
            ask(true),
            never,
            Cursor::new("pass word\r\nsecond line\n"),
        )
        .unwrap();
        assert_eq!(got.expose_secret(), "pass word");
    }

    #[test]
    fn a_terminal_is_prompted_and_a_new_password_asked_twice() {
        let mut prompts = Vec::new();
        let mut typed = vec!["s3cret".to_owned(), "s3cret".to_owned()].into_iter();
        let got = read(
            Source::Terminal,
            ask(true),
            |p: &str| {
                prompts.push(p.to_owned());
                Ok(typed.next().unwrap())
            },
            Cursor::new("not read\n"),
        )
        .unwrap();
        assert_eq!(got.expose_secret(), "s3cret");
        assert_eq!(prompts, ["Password for alice: ", "Again, to confirm: "]);

        let mut typed = vec!["s3cret".to_owned(), "s3crte".to_owned()].into_iter();
        let err = read(
            Source::Terminal,
            ask(true),
            |_: &str| Ok(typed.next().unwrap()),
            Cursor::new(""),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("differ"), "{err}");
        assert!(!err.contains("s3cr"), "{err}");

        let mut asked = 0;
        let got = read(
            Source::Terminal,
            ask(false),
            |_: &str| {
                asked += 1;
                Ok("once".to_owned())
            },
            Cursor::new(""),
        )
        .unwrap();
        assert_eq!((got.expose_secret(), asked), ("once", 1));
    }
}
