//! A [`Projection`]: some fields of a dataset, in a chosen order — the one value a field
//! selection becomes ([`Dataset::select`] makes it from `-f` patterns), carrying its schema and
//! handing out chunks of just those fields.

use crate::container::dataset::{Chunks, Dataset};
use crate::container::dtype::{Field, Schema};
use crate::error::{Error, Result};

/// Some fields of a dataset, in a chosen order: what a tool reads, spells and writes. Its
/// schema and its chunks come from one choice, so they always agree: column `i` of every chunk
/// is field `i` of [`Projection::schema`].
#[derive(Debug)]
pub struct Projection {
    dataset: Dataset,
    /// The chosen fields' indices in the dataset's schema.
    indices: Vec<usize>,
    /// The chosen fields, in order.
    schema: Schema,
}

impl Dataset {
    /// Every field, in schema order.
    pub fn every_field(self) -> Projection {
        let indices = (0..self.schema().fields.len()).collect();
        self.project(indices)
    }

    /// The fields at `indices` of [`Dataset::schema`], in that order, for a tool that
    /// chooses by its own rules (cs-to-star's columns). An index past the schema is an error.
    pub fn select_indices(self, indices: Vec<usize>) -> Result<Projection> {
        let fields = self.schema().fields.len();
        match indices.iter().find(|&&i| i >= fields) {
            Some(i) => Err(Error::in_whole_file(format!(
                "has {fields} fields, no field {i} (internal error)"
            ))
            .in_file(self.name())),
            None => Ok(self.project(indices)),
        }
    }

    /// The fields at `indices`, all within the schema.
    pub(crate) fn project(self, indices: Vec<usize>) -> Projection {
        Projection {
            schema: self.schema().subset(&indices),
            dataset: self,
            indices,
        }
    }
}

impl Projection {
    /// The chosen fields, in order.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The chosen fields, in order (the fields of [`Projection::schema`]).
    pub fn fields(&self) -> &[Field] {
        &self.schema.fields
    }

    /// How errors refer to the dataset.
    pub fn name(&self) -> &str {
        self.dataset.name()
    }

    /// Number of rows the header declares.
    pub fn rows(&self) -> u64 {
        self.dataset.rows()
    }

    /// The same fields of the same dataset again, to be read from its first row (see
    /// [`Dataset::reopen`]).
    pub fn reopen(&self) -> Result<Projection> {
        Ok(Projection {
            dataset: self.dataset.reopen()?,
            indices: self.indices.clone(),
            schema: self.schema.clone(),
        })
    }

    /// Stream the rows of the chosen fields in chunks of about `chunk_bytes` of stored data
    /// ([`CHUNK_BYTES`](crate::container::dataset::CHUNK_BYTES) for a tool).
    pub fn chunks(self, chunk_bytes: usize) -> Result<Chunks> {
        self.dataset.chunks(&self.indices, chunk_bytes)
    }
}
