//! Where a push's fields are kept once read: its element tree, or, for a flat message, its
//! text with the place of each field, read in place; and the one way the typed view reads a
//! field from either.

use std::sync::OnceLock;

use crate::xml::{self, Element, FlatFields};

/// A push's document: its tree, or, for a flat message (every field plain text, the shape
/// nearly every push has), its text and where each field is, the tree built only if asked for.
#[derive(Debug, Clone)]
pub(crate) enum Document {
    Tree(Element),
    Flat(FlatDocument),
}

/// A flat `<xml>` document kept as text: the fields are read in place.
#[derive(Debug, Clone)]
pub(crate) struct FlatDocument {
    text: Box<str>,
    /// Each field's name and text, as byte ranges of `text`, in document order.
    fields: Box<[(Span, Span)]>,
    /// The tree, once [`crate::message::Inbound::root`] asked for it.
    tree: OnceLock<Element>,
}

/// A byte range of a [`FlatDocument`]'s text.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
}

impl FlatDocument {
    /// `flat`, kept with a copy of the document it was read from. `None` when that is too long
    /// for 32-bit offsets (no push is).
    pub(crate) fn new(flat: &FlatFields<'_>) -> Option<Self> {
        let input = flat.source();
        let base = input.as_ptr() as usize;
        let span = |part: &str| -> Option<Span> {
            // `part` is a slice of `input`: its offset is the distance between the two.
            let start = (part.as_ptr() as usize).checked_sub(base)?;
            let end = start.checked_add(part.len())?;
            (end <= input.len()).then_some(Span {
                start: u32::try_from(start).ok()?,
                end: u32::try_from(end).ok()?,
            })
        };
        // Collected into exactly the room needed, so the box is made without a reallocation.
        let mut fields = Vec::with_capacity(flat.len());
        for (name, text) in flat.iter() {
            fields.push((span(name)?, span(text)?));
        }
        let fields = fields.into_boxed_slice();
        Some(Self {
            text: input.into(),
            fields,
            tree: OnceLock::new(),
        })
    }

    fn slice(&self, span: Span) -> &str {
        self.text
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }

    /// Every field as `(name, text)`, in document order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|&(name, text)| (self.slice(name), self.slice(text)))
    }

    /// The tree the full reader gives for the same document.
    pub(crate) fn tree(&self) -> &Element {
        self.tree.get_or_init(|| xml::flat_tree("xml", self.iter()))
    }
}

/// Where the typed view reads a push's fields: its tree, or a flat document in place.
pub(crate) trait Fields {
    /// The text of the first field called `name`, as sent (blank included); `None` when
    /// there is none.
    fn first(&self, name: &str) -> Option<&str>;
}

impl Fields for Element {
    fn first(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

impl Fields for FlatDocument {
    fn first(&self, name: &str) -> Option<&str> {
        // Names are compared as bytes: only the field found is sliced as text.
        let bytes = self.text.as_bytes();
        self.fields
            .iter()
            .find(|(n, _)| bytes.get(n.start as usize..n.end as usize) == Some(name.as_bytes()))
            .map(|&(_, text)| self.slice(text))
    }
}

impl Fields for Document {
    fn first(&self, name: &str) -> Option<&str> {
        match self {
            Document::Tree(root) => root.first(name),
            Document::Flat(flat) => flat.first(name),
        }
    }
}

impl Fields for FlatFields<'_> {
    fn first(&self, name: &str) -> Option<&str> {
        self.get(name)
    }
}
