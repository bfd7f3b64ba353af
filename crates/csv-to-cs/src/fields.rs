//! The fields written, where they are declared: a template's (`--like`) or a schema file's
//! (`--schema`); and the checks inferred fields must pass.

use cs_cli::Failure;
use cs_format::limits::check_row_elements;
use cs_format::{Dataset, Error, Field, FieldType, Place};
use std::path::Path;

/// Fields inferred from a header row or from JSON arrays: shapes within cryosparc-tools'
/// limits, sizes that fit 64 bits, and elements per row within
/// [`MAX_ROW_ELEMENTS`](cs_format::limits::MAX_ROW_ELEMENTS). The error names the field.
pub fn check_inferred(fields: &[Field]) -> Result<(), Error> {
    for f in fields {
        FieldType::checked(f.ty.kind, f.ty.order, f.ty.shape.clone())
            .map_err(|what| Error::new(Place::Field(f.name.clone()), what))?;
    }
    check_row_elements(fields)
}

/// The template's fields (numbers little-endian), and the template opened.
pub fn template(path: &Path, name: &str) -> Result<(Vec<Field>, Dataset), Failure> {
    let ds = Dataset::open(path, name).map_err(cs_cli::hints::explain_cs_file(path))?;
    check_row_elements(&ds.schema().fields).map_err(|e| e.in_file(name))?;
    let fields: Vec<Field> = ds
        .schema()
        .fields
        .iter()
        .map(|f| Field {
            name: f.name.clone(),
            ty: FieldType {
                kind: f.ty.kind,
                order: cs_format::ByteOrder::Little,
                shape: f.ty.shape.clone(),
            },
        })
        .collect();
    Ok((fields, ds))
}

/// The fields of a schema file: the JSON-lines `cs-cat --schema` prints.
pub fn read_schema(path: &Path) -> Result<Vec<Field>, Failure> {
    let name = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io(&e, Place::File).in_file(&name))?;
    let mut fields = Vec::new();
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let place = Place::Line(i as u64 + 1);
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| Error::new(place.clone(), format!("not JSON: {e}")).in_file(&name))?;
        let f = Field::from_schema_json(&v).map_err(|e| Error::new(place, e).in_file(&name))?;
        fields.push(f);
        lines.push(i as u64 + 1);
    }
    if fields.is_empty() {
        return Err(Error::in_whole_file("the schema lists no fields")
            .in_file(&name)
            .into());
    }
    // The schema's lines are few; the columns its shapes would lay out must be too.
    check_row_elements(&fields).map_err(|mut e| {
        if let Place::Field(field) = &e.place {
            let at = fields.iter().position(|f| &f.name == field);
            let line = at.map_or(0, |i| lines[i]);
            e.place = Place::LineField {
                line,
                field: field.clone(),
            };
        }
        e.in_file(&name)
    })?;
    Ok(fields)
}
