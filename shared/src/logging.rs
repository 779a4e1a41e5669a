//! The functions' log subscriber: what `lambda_runtime`'s default one does
//! (Lambda's advanced logging controls: `AWS_LAMBDA_LOG_FORMAT=JSON` for one
//! JSON object per line, `AWS_LAMBDA_LOG_LEVEL` before `RUST_LOG`, `INFO`
//! when neither is set; no timestamps, which CloudWatch adds), filtered by
//! [`Targets`] instead of `EnvFilter`.
//!
//! `EnvFilter` matches span fields with regular expressions, and linking
//! it put the `regex` engine (about 0.4 MB) into every bootstrap. `RUST_LOG`
//! keeps its common form, `level` or `target=level` separated by commas;
//! span and field filters (`[span{field=value}]`) are not supported, and a
//! value that does not parse is ignored, as `EnvFilter` ignores it.
//!
//! One event is one line, whatever a request carries. Log values echo
//! request text (an unknown name in a body, a path segment, an error
//! quoting either), and a raw newline in one would start a line of the
//! caller's choosing, e.g. one that reads like a `warden::audit` record; an
//! ESC would drive the terminal of whoever tails the log. The JSON format
//! escapes through serde (and `JsonEscapes` for what serde leaves); the
//! text format writes its fields with [`EscapedFields`], which the
//! `warden` command uses too ([`text_layer`]).

use std::fmt::{self, Write as _};
use std::str::FromStr as _;

use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::{Format, Writer};
use tracing_subscriber::fmt::{FormatFields, MakeWriter};
use tracing_subscriber::layer::{Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Installs the global subscriber of a Lambda function, writing to stdout.
pub fn init_lambda() {
    let var = |name: &str| std::env::var(name).ok();
    let filter = filter(
        var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
        var("RUST_LOG").as_deref(),
    );
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    tracing_subscriber::registry()
        .with(filter)
        .with(lambda_layer(json, std::io::stdout))
        .init();
}

/// The functions' format layer writing to `writer`: one JSON object per
/// event when `json`, else text; no target, no time, no colours. What
/// [`init_lambda`] installs (with stdout), and what tests read logs with.
pub fn lambda_layer<S, W>(json: bool, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    if json {
        tracing_subscriber::fmt::layer()
            .with_target(false)
            .without_time()
            .with_ansi(false)
            .with_writer(JsonEscapes(writer))
            .json()
            .boxed()
    } else {
        text_layer(writer)
            .with_target(false)
            .without_time()
            .with_ansi(false)
            .boxed()
    }
}

/// A text format layer writing to `writer` whose fields (the message, the
/// event's fields, its spans' fields) are written by [`EscapedFields`]:
/// what `tracing_subscriber::fmt::layer()` writes, one line per event.
/// Configure it further as that layer (`with_ansi`, `without_time`).
pub fn text_layer<S, W>(writer: W) -> tracing_subscriber::fmt::Layer<S, EscapedFields, Format, W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    tracing_subscriber::fmt::layer()
        .fmt_fields(EscapedFields)
        .with_writer(writer)
}

/// Writes fields as `tracing_subscriber`'s default field formatter does
/// (`name=value` with the value's `Debug`, the message bare, a space
/// between fields, names in italics when the writer takes colours), except
/// that every control character in a value or the message is escaped
/// (`\n`, `\u{1b}`: see `Escaped`), so no value can end the line or reach a terminal
/// as a command. The default formatter escapes a `str` value (its `Debug`
/// does) but writes a `%display` value and the message as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = EscapedVisitor {
            writer,
            empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

/// The visitor of [`EscapedFields`].
struct EscapedVisitor<'writer> {
    writer: Writer<'writer>,
    empty: bool,
    result: fmt::Result,
}

impl EscapedVisitor<'_> {
    /// Writes the separating space (before every field but the first)
    /// and `name=`, as the default formatter does.
    fn name(&mut self, name: &str) -> fmt::Result {
        if !std::mem::take(&mut self.empty) {
            self.writer.write_char(' ')?;
        }
        self.label(name, "")
    }

    /// `name` and `suffix` then `=`; when the writer takes colours, each
    /// part in italics and `=` dimmed, the codes of the default formatter.
    fn label(&mut self, name: &str, suffix: &str) -> fmt::Result {
        if !self.writer.has_ansi_escapes() {
            return write!(self.writer, "{name}{suffix}=");
        }
        write!(self.writer, "\x1b[3m{name}\x1b[0m")?;
        if !suffix.is_empty() {
            write!(self.writer, "\x1b[3m{suffix}\x1b[0m")?;
        }
        self.writer.write_str("\x1b[2m=\x1b[0m")
    }

    /// A field as its `Debug`, the message without its name.
    fn debug(&mut self, name: &str, value: &dyn fmt::Debug) -> fmt::Result {
        if name == "message" {
            if !std::mem::take(&mut self.empty) {
                self.writer.write_char(' ')?;
            }
        } else {
            self.name(name.strip_prefix("r#").unwrap_or(name))?;
        }
        write!(Escaped(&mut self.writer), "{value:?}")
    }

    /// An error field as the default writes it: `name=<error>
    /// name.sources=[<source>, ...]` when it has sources.
    fn error(&mut self, name: &str, value: &(dyn std::error::Error + 'static)) -> fmt::Result {
        self.name(name.strip_prefix("r#").unwrap_or(name))?;
        write!(Escaped(&mut self.writer), "{value}")?;
        let Some(mut source) = value.source() else {
            return Ok(());
        };
        self.writer.write_char(' ')?;
        self.label(name, ".sources")?;
        self.writer.write_char('[')?;
        loop {
            write!(Escaped(&mut self.writer), "{source}")?;
            let Some(next) = source.source() else {
                return self.writer.write_char(']');
            };
            self.writer.write_str(", ")?;
            source = next;
        }
    }
}

impl Visit for EscapedVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.result.is_ok() {
            self.result = self.error(field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // Metadata of `log` records, which the format has written already.
        if self.result.is_ok() && !field.name().starts_with("log.") {
            self.result = self.debug(field.name(), value);
        }
    }
}

/// A writer that writes to the one it wraps with every control character
/// escaped: `\n`, `\r`, `\t`, `\0`, and `\u{..}` for the other C0 controls,
/// DEL, the C1 controls (ESC is `\u{1b}`) and the line and paragraph
/// separators U+2028 and U+2029, which some viewers break lines at. These
/// are the escapes of Rust's `Debug` for `str`, so a value that was escaped
/// already reads the same (nothing else is escaped, a backslash included).
/// Text with none of them, nearly all, is written in one piece.
struct Escaped<'a, W: ?Sized>(&'a mut W);

impl<W: fmt::Write + ?Sized> fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut clean = 0;
        for (at, c) in s.char_indices() {
            if !(c.is_control() || c == '\u{2028}' || c == '\u{2029}') {
                continue;
            }
            self.0.write_str(&s[clean..at])?;
            match c {
                '\0' => self.0.write_str("\\0")?,
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                c => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
            }
            clean = at + c.len_utf8();
        }
        self.0.write_str(&s[clean..])
    }
}

/// The writers of JSON lines: serde escapes the C0 controls in a string
/// (`\u001b`) but writes DEL, the C1 controls (U+0080 to U+009F, a
/// terminal's 8-bit CSI among them) and U+2028/U+2029 as they are. They
/// can only be in a string (JSON's own syntax is ASCII), where `\u0085`
/// reads the same to a JSON reader, so each is written so. The layer
/// writes an event's whole line in one `write`, so none is split.
struct JsonEscapes<M>(M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for JsonEscapes<M> {
    type Writer = JsonEscaped<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        JsonEscaped(self.0.make_writer())
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        JsonEscaped(self.0.make_writer_for(meta))
    }
}

/// See [`JsonEscapes`].
struct JsonEscaped<W>(W);

impl<W: std::io::Write> std::io::Write for JsonEscaped<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (mut clean, mut at) = (0, 0);
        while at < buf.len() {
            // The UTF-8 of U+007F, U+0080..=U+009F, U+2028 and U+2029.
            let (len, code) = match buf[at..] {
                [0x7f, ..] => (1, 0x7f),
                [0xc2, b @ 0x80..=0x9f, ..] => (2, u32::from(b)),
                [0xe2, 0x80, b @ (0xa8 | 0xa9), ..] => (3, 0x2000 + u32::from(b - 0x80)),
                _ => {
                    at += 1;
                    continue;
                }
            };
            self.0.write_all(&buf[clean..at])?;
            write!(self.0, "\\u{code:04x}")?;
            at += len;
            clean = at;
        }
        self.0.write_all(&buf[clean..])?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The filter: `lambda_level` for everything when it is a level, else
/// `rust_log`'s directives (`INFO` for targets they do not name), else
/// `INFO`. The `warden` command uses it too, with `RUST_LOG` alone.
pub fn filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    if let Some(level) = lambda_level.and_then(|l| LevelFilter::from_str(l.trim()).ok()) {
        return Targets::new().with_default(level);
    }
    let targets = rust_log
        .and_then(|directives| Targets::from_str(directives).ok())
        .unwrap_or_default();
    if targets.default_level().is_some() {
        targets
    } else {
        targets.with_default(LevelFilter::INFO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::LogBuffer;
    use tracing::Level;

    /// What a client might send to forge a line: a newline and a fake
    /// entry, terminal escapes (ESC and the 8-bit CSI), the other line
    /// breaks, a tab, DEL.
    const FORGED: &str = "x\n INFO warden::audit: forged\x1b[31m\r\u{9b}2J\u{85}\u{2028}\t\u{7f}";

    /// `FORGED` as the text format writes it.
    const FORGED_ESCAPED: &str =
        r"x\n INFO warden::audit: forged\u{1b}[31m\r\u{9b}2J\u{85}\u{2028}\t\u{7f}";

    /// A value whose `Debug` writes what it holds as it is.
    struct Raw(&'static str);

    impl fmt::Debug for Raw {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    /// An error with a source, both saying `text`.
    #[derive(Debug)]
    struct Failed(&'static str, Option<Box<Failed>>);

    impl fmt::Display for Failed {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "failed: {}", self.0)
        }
    }

    impl std::error::Error for Failed {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    /// One event carrying `value` in every kind of field (a span's, a
    /// `%display`, a `?debug`, a `str`, an error, the message), logged
    /// through `layer`; what it wrote.
    fn log_one(
        layer: impl Layer<tracing_subscriber::Registry> + Send + Sync,
        buffer: &LogBuffer,
        value: &'static str,
    ) -> String {
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("handler", request_id = %value);
            let _entered = span.enter();
            let error = Failed(value, Some(Box::new(Failed(value, None))));
            tracing::info!(
                stage = %value,
                name = value,
                raw = ?Raw(value),
                error = &error as &(dyn std::error::Error + 'static),
                r#type = 7,
                ok = true,
                "request refused: {value}"
            );
        });
        buffer.text()
    }

    #[test]
    fn the_text_format_writes_a_forged_value_on_one_line_escaped() {
        let buffer = LogBuffer::default();
        let line = log_one(lambda_layer(false, buffer.clone()), &buffer, FORGED);
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        assert!(line.ends_with('\n'), "{line}");
        assert!(
            !line
                .trim_end_matches('\n')
                .contains(|c: char| c.is_control() || c == '\u{2028}'),
            "{line:?}"
        );
        let e = FORGED_ESCAPED;
        assert_eq!(
            line,
            format!(
                " INFO handler{{request_id={e}}}: request refused: {e} stage={e} \
                 name=\"{e}\" raw={e} error=failed: {e} error.sources=[failed: {e}] type=7 ok=true\n"
            )
        );
    }

    #[test]
    fn the_json_format_writes_a_forged_value_on_one_line_escaped() {
        let buffer = LogBuffer::default();
        let line = log_one(lambda_layer(true, buffer.clone()), &buffer, FORGED);
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        assert!(line.ends_with('\n'), "{line}");
        assert!(line.is_ascii(), "{line:?}");
        assert!(
            !line
                .trim_end_matches('\n')
                .contains(|c: char| c.is_control()),
            "{line:?}"
        );
        // Escaped, not altered: a JSON reader gets each value back.
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        let fields = &event["fields"];
        assert_eq!(fields["message"], format!("request refused: {FORGED}"));
        assert_eq!(fields["stage"], FORGED);
        assert_eq!(fields["name"], FORGED);
        assert_eq!(fields["raw"], FORGED);
        assert_eq!(event["span"]["request_id"], FORGED);
    }

    #[test]
    fn plain_values_read_as_the_default_field_format_writes_them() {
        for ansi in [false, true] {
            let (ours, default) = (LogBuffer::default(), LogBuffer::default());
            let escaped = log_one(
                text_layer(ours.clone()).without_time().with_ansi(ansi),
                &ours,
                "plain \"quoted\" \\ text, é",
            );
            let plain = log_one(
                tracing_subscriber::fmt::layer()
                    .with_writer(default.clone())
                    .without_time()
                    .with_ansi(ansi),
                &default,
                "plain \"quoted\" \\ text, é",
            );
            assert_eq!(escaped, plain, "ansi: {ansi}");
            // Names in italics: the comparison covers the colours too.
            assert_eq!(escaped.contains("\x1b[3mstage\x1b[0m"), ansi, "{escaped:?}");
        }
    }

    #[test]
    fn the_escapes_are_those_of_debug_for_str() {
        let every: String = (0..=0x10ffff_u32)
            .filter_map(char::from_u32)
            .filter(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
            .collect();
        let mut written = String::new();
        Escaped(&mut written).write_str(&every).unwrap();
        let debug = format!("{every:?}");
        assert_eq!(written, debug[1..debug.len() - 1]);
    }

    #[test]
    fn lambdas_log_level_comes_first_then_rust_log_then_info() {
        let f = filter(Some("DEBUG"), Some("error"));
        assert!(f.would_enable("warden", &Level::DEBUG));
        assert!(!f.would_enable("warden", &Level::TRACE));

        let f = filter(None, Some("warn"));
        assert!(f.would_enable("warden", &Level::WARN));
        assert!(!f.would_enable("warden", &Level::INFO));

        let f = filter(None, None);
        assert!(f.would_enable("warden", &Level::INFO));
        assert!(!f.would_enable("warden", &Level::DEBUG));
    }

    #[test]
    fn rust_log_targets_apply_and_the_rest_stays_at_info() {
        let f = filter(None, Some("warden=debug,aws_smithy_runtime=off"));
        assert!(f.would_enable("warden::auth", &Level::DEBUG));
        assert!(!f.would_enable("aws_smithy_runtime::client", &Level::ERROR));
        assert!(f.would_enable("hyper", &Level::INFO));
        assert!(!f.would_enable("hyper", &Level::DEBUG));
    }

    #[test]
    fn a_value_that_does_not_parse_is_ignored() {
        let f = filter(Some("loud"), Some("warden[span{x=1}]=debug"));
        assert!(f.would_enable("warden", &Level::INFO));
        assert!(!f.would_enable("warden", &Level::DEBUG));
    }
}
