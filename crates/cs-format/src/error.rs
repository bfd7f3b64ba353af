//! The one error type of the format crate: what went wrong and where.

use std::fmt;

/// Where in an input a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Nowhere more precise than the file itself.
    File,
    /// A byte offset from the start of the file.
    Byte(u64),
    /// A field (column) of the dataset.
    Field(String),
    /// One cell: a 0-based row and a field.
    Cell {
        /// The 0-based row.
        row: u64,
        /// The field's name.
        field: String,
    },
    /// A key of a header or document.
    Key(String),
    /// A 1-based line of a text input.
    Line(u64),
    /// A field on a 1-based line of a text input (shown as `FILE:LINE: field NAME`).
    LineField {
        /// The 1-based line.
        line: u64,
        /// The field's name.
        field: String,
    },
    /// An entry (member) of an archive, by its name as stored.
    Entry(String),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::File => Ok(()),
            Place::Byte(b) => write!(f, "byte {b}"),
            Place::Field(name) => write!(f, "field {name}"),
            Place::Cell { row, field } => write!(f, "row {row}, field {field}"),
            Place::Key(k) => write!(f, "key {k}"),
            Place::Line(l) => write!(f, "line {l}"),
            Place::LineField { line, field } => write!(f, "line {line}, field {field}"),
            Place::Entry(name) => write!(f, "entry {name}"),
        }
    }
}

/// A problem with an input: the file (once known), the place and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The file the problem is in, as the user named it (`-` for stdin).
    pub file: Option<String>,
    /// Where in the file.
    pub place: Place,
    /// What was wrong, in a few words.
    pub what: String,
    /// True when the cause is a closed output pipe rather than bad data.
    pub broken_pipe: bool,
}

impl Error {
    /// A problem at `place`.
    pub fn new(place: Place, what: impl Into<String>) -> Self {
        Error {
            file: None,
            place,
            what: what.into(),
            broken_pipe: false,
        }
    }

    /// A problem at a byte offset.
    pub fn at_byte(offset: u64, what: impl Into<String>) -> Self {
        Self::new(Place::Byte(offset), what)
    }

    /// A problem with the file as a whole.
    pub fn in_whole_file(what: impl Into<String>) -> Self {
        Self::new(Place::File, what)
    }

    /// An I/O error while reading at `place`.
    pub fn io(err: &std::io::Error, place: Place) -> Self {
        let mut e = Self::new(place, io_message(err));
        e.broken_pipe = err.kind() == std::io::ErrorKind::BrokenPipe;
        e
    }

    /// Attach the file name (keeps one already attached).
    pub fn in_file(mut self, name: &str) -> Self {
        if self.file.is_none() {
            self.file = Some(name.to_string());
        }
        self
    }
}

/// The text of an I/O error without Rust's "(os error N)" suffix.
pub fn io_message(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(file), Place::LineField { line, field }) = (&self.file, &self.place) {
            return write!(f, "{file}:{line}: field {field}: {}", self.what);
        }
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if self.place != Place::File {
            write!(f, "{}: ", self.place)?;
        }
        f.write_str(&self.what)
    }
}

impl std::error::Error for Error {}

/// Result with the format crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
