//! The crate's one error type. Every variant says what is wrong and where.

/// Everything that can go wrong while reading annex text, validating registers or rendering.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// The annex text could not be read as an annex (line numbers start at 1).
    #[error("annex text, line {line}: {problem}")]
    AnnexText { line: usize, problem: String },

    /// The annex file could not be read.
    #[error("annex file {path}: {problem}")]
    AnnexFile { path: String, problem: String },

    /// The annex bytes are not UTF-8.
    #[error("annex text is not valid UTF-8 at byte offset {byte_offset}")]
    AnnexNotUtf8 { byte_offset: usize },

    /// A Statement of Applicability does not hold together.
    #[error("statement of applicability, {location}: {problem}")]
    Applicability { location: String, problem: String },

    /// A check result, or a piece of manual evidence, refers to something the catalogue lacks or
    /// holds an impossible value.
    #[error("evidence {location}: {problem}")]
    Evidence { location: String, problem: String },

    /// A document could not be rendered from the inputs given.
    #[error("rendering {location}: {problem}")]
    Render { location: String, problem: String },

    /// Public page or feed input is not publishable as given.
    #[error("public page {location}: {problem}")]
    Public { location: String, problem: String },
}
