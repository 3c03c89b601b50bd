//! The public surface of a crate, read from its sources with `syn`, and the
//! differences between two of them.
//!
//! rustdoc's JSON output would be exact but is nightly only. Reading the sources sees
//! what the student sees: every `pub` item with its signature and doc comment, by
//! module. Bodies, private items, comments and layout do not count.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Display};
use std::fs;
use std::path::{Component, Path};

use quote::ToTokens;
use syn::{
    Attribute, Expr, Fields, FnArg, ImplItem, Item, Lit, Meta, Pat, Signature, TraitItem, Type,
    UseTree, Visibility,
};

/// One public thing, by where it is and what it is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    /// `ch01_setup::naming::ProcessKind::prefix`.
    pub path: String,
    /// `fn`, `struct`, `field`, `pub use`, ...
    pub kind: String,
}

impl Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.path, self.kind)
    }
}

/// What is compared of one public thing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// Its signature as normalised tokens; empty for things that have none.
    pub signature: String,
    /// Its doc comment, one string per `///` line.
    pub docs: Vec<String>,
}

/// A crate's public surface.
#[derive(Default, Debug)]
pub struct Surface {
    /// Every public thing.
    pub items: BTreeMap<Key, Entry>,
    /// Impl blocks wait here until every file is read, because only then is it known
    /// whether their self type is private.
    impls: Vec<(String, Key, Entry)>,
    private_types: BTreeSet<String>,
    public_types: BTreeSet<String>,
}

/// Reads every `src/**/*.rs` of the crate in `crate_dir`, naming paths after
/// `crate_name` (the skeleton's, for both sides, so that the paths match).
pub fn surface(crate_dir: &Path, crate_name: &str) -> Result<Surface, String> {
    let src = crate_dir.join("src");
    let mut files = Vec::new();
    crate::chapters::rust_files(&src, &mut files);
    files.sort();
    let mut surface = Surface::default();
    for file in files {
        let text =
            fs::read_to_string(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        let parsed = syn::parse_file(&text).map_err(|e| {
            format!(
                "parsing {}: {e} (line {})",
                file.display(),
                e.span().start().line
            )
        })?;
        let module = module_path(crate_name, file.strip_prefix(&src).unwrap_or(&file));
        let docs = docs(&parsed.attrs);
        if !docs.is_empty() {
            surface.add(&module, "module docs", String::new(), docs);
        }
        surface.items_of(&module, &parsed.items);
    }
    surface.finish();
    Ok(surface)
}

/// `src/lib.rs` is the crate, `src/a/mod.rs` and `src/a.rs` are `crate::a`.
fn module_path(crate_name: &str, relative: &Path) -> String {
    let mut parts = vec![crate_name.to_owned()];
    let components: Vec<String> = relative
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    for (i, part) in components.iter().enumerate() {
        let last = i + 1 == components.len();
        let part = if last {
            part.strip_suffix(".rs").unwrap_or(part)
        } else {
            part
        };
        if last && ["lib", "main", "mod"].contains(&part) {
            continue;
        }
        parts.push(part.to_owned());
    }
    parts.join("::")
}

impl Surface {
    /// Keeps the impl blocks whose self type is not a private type of the crate.
    fn finish(&mut self) {
        for (self_type, key, entry) in std::mem::take(&mut self.impls) {
            let private =
                self.private_types.contains(&self_type) && !self.public_types.contains(&self_type);
            if !private {
                self.items.insert(key, entry);
            }
        }
    }

    fn add(&mut self, path: &str, kind: &str, signature: String, docs: Vec<String>) {
        let key = Key {
            path: path.to_owned(),
            kind: kind.to_owned(),
        };
        self.items.insert(key, Entry { signature, docs });
    }

    fn items_of(&mut self, module: &str, items: &[Item]) {
        for item in items {
            self.item(module, item);
        }
    }

    fn item(&mut self, module: &str, item: &Item) {
        let at = |name: &dyn Display| format!("{module}::{name}");
        match item {
            Item::Mod(m) => {
                if is_cfg_test(&m.attrs) {
                    return;
                }
                let path = at(&m.ident);
                if is_pub(&m.vis) {
                    self.add(&path, "mod", attrs(&m.attrs), docs(&m.attrs));
                }
                // Private modules too: their public items may be re-exported.
                if let Some((_, items)) = &m.content {
                    self.items_of(&path, items);
                }
            }
            Item::Use(u) if is_pub(&u.vis) => {
                let mut flat = Vec::new();
                flatten_use(String::new(), &u.tree, &mut flat);
                for used in flat {
                    let kind = format!("pub use {used}");
                    self.add(module, &kind, attrs(&u.attrs), docs(&u.attrs));
                }
            }
            Item::Fn(f) if is_pub(&f.vis) => {
                let signature = format!("{}{}", attrs(&f.attrs), signature(&f.sig));
                self.add(&at(&f.sig.ident), "fn", signature, docs(&f.attrs));
            }
            Item::Struct(s) => {
                self.note_type(&s.ident, &s.vis);
                if !is_pub(&s.vis) {
                    return;
                }
                let path = at(&s.ident);
                let head = format!(
                    "{}struct {}{} {}",
                    attrs(&s.attrs),
                    s.ident,
                    tokens(&s.generics),
                    tokens(&s.generics.where_clause)
                );
                let shape = self.fields(&path, &s.fields, false);
                self.add(&path, "struct", format!("{head} {shape}"), docs(&s.attrs));
            }
            Item::Union(u) => {
                self.note_type(&u.ident, &u.vis);
                if !is_pub(&u.vis) {
                    return;
                }
                let path = at(&u.ident);
                let head = format!(
                    "{}union {}{}",
                    attrs(&u.attrs),
                    u.ident,
                    tokens(&u.generics)
                );
                let shape = self.fields(&path, &Fields::Named(u.fields.clone()), false);
                self.add(&path, "union", format!("{head} {shape}"), docs(&u.attrs));
            }
            Item::Enum(e) => {
                self.note_type(&e.ident, &e.vis);
                if !is_pub(&e.vis) {
                    return;
                }
                let path = at(&e.ident);
                let names: Vec<String> = e.variants.iter().map(|v| v.ident.to_string()).collect();
                let head = format!(
                    "{}enum {}{} {} {{ {} }}",
                    attrs(&e.attrs),
                    e.ident,
                    tokens(&e.generics),
                    tokens(&e.generics.where_clause),
                    names.join(", ")
                );
                self.add(&path, "enum", head, docs(&e.attrs));
                for variant in &e.variants {
                    let variant_path = format!("{path}::{}", variant.ident);
                    let mut shape = self.fields(&variant_path, &variant.fields, true);
                    if let Some((_, discriminant)) = &variant.discriminant {
                        shape.push_str(&format!(" = {}", tokens(discriminant)));
                    }
                    let signature = format!("{}{shape}", attrs(&variant.attrs));
                    self.add(&variant_path, "variant", signature, docs(&variant.attrs));
                }
            }
            Item::Const(c) if is_pub(&c.vis) => {
                let signature = format!(
                    "{}const {}: {} = {}",
                    attrs(&c.attrs),
                    c.ident,
                    tokens(&c.ty),
                    tokens(&c.expr)
                );
                self.add(&at(&c.ident), "const", signature, docs(&c.attrs));
            }
            Item::Static(s) if is_pub(&s.vis) => {
                let signature = format!(
                    "{}static {}{}: {} = {}",
                    attrs(&s.attrs),
                    tokens(&s.mutability),
                    s.ident,
                    tokens(&s.ty),
                    tokens(&s.expr)
                );
                self.add(&at(&s.ident), "static", signature, docs(&s.attrs));
            }
            Item::Type(t) => {
                self.note_type(&t.ident, &t.vis);
                if is_pub(&t.vis) {
                    let signature = format!(
                        "{}type {}{} = {}",
                        attrs(&t.attrs),
                        t.ident,
                        tokens(&t.generics),
                        tokens(&t.ty)
                    );
                    self.add(&at(&t.ident), "type", signature, docs(&t.attrs));
                }
            }
            Item::Trait(t) if is_pub(&t.vis) => {
                let path = at(&t.ident);
                let head = format!(
                    "{}{}{}trait {}{}: {} {}",
                    attrs(&t.attrs),
                    tokens(&t.unsafety),
                    tokens(&t.auto_token),
                    t.ident,
                    tokens(&t.generics),
                    tokens(&t.supertraits),
                    tokens(&t.generics.where_clause)
                );
                self.add(&path, "trait", head, docs(&t.attrs));
                for trait_item in &t.items {
                    self.trait_item(&path, trait_item);
                }
            }
            Item::Impl(i) => self.impl_block(module, i),
            Item::Macro(m) if m.attrs.iter().any(|a| a.path().is_ident("macro_export")) => {
                if let Some(name) = &m.ident {
                    self.add(&at(name), "macro", attrs(&m.attrs), docs(&m.attrs));
                }
            }
            _ => {}
        }
    }

    fn note_type(&mut self, name: &syn::Ident, vis: &Visibility) {
        if is_pub(vis) {
            self.public_types.insert(name.to_string());
        } else {
            self.private_types.insert(name.to_string());
        }
    }

    /// The shape of a struct or variant: the names of its public fields, each kept as a
    /// thing of its own with its type and doc comment. Private fields count only as
    /// being there, because they decide whether the student can build the value.
    fn fields(&mut self, path: &str, fields: &Fields, in_variant: bool) -> String {
        let (open, close, list) = match fields {
            Fields::Named(named) => ("{", "}", &named.named),
            Fields::Unnamed(unnamed) => ("(", ")", &unnamed.unnamed),
            Fields::Unit => return String::new(),
        };
        let mut shown = Vec::new();
        let mut private = false;
        for (index, field) in list.iter().enumerate() {
            // Variants' fields have no visibility of their own: they are as public as
            // the enum.
            if !(in_variant || is_pub(&field.vis)) {
                private = true;
                continue;
            }
            let name = field
                .ident
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_else(|| index.to_string());
            let signature = format!("{}{}", attrs(&field.attrs), tokens(&field.ty));
            shown.push(name.clone());
            let field_path = format!("{path}.{name}");
            self.add(&field_path, "field", signature, docs(&field.attrs));
        }
        if private {
            shown.push("..".to_owned());
        }
        format!("{open} {} {close}", shown.join(", "))
    }

    fn trait_item(&mut self, trait_path: &str, item: &TraitItem) {
        match item {
            TraitItem::Fn(f) => {
                let provided = if f.default.is_some() {
                    " (provided)"
                } else {
                    ""
                };
                let signature = format!("{}{}{provided}", attrs(&f.attrs), signature(&f.sig));
                let path = format!("{trait_path}::{}", f.sig.ident);
                self.add(&path, "trait fn", signature, docs(&f.attrs));
            }
            TraitItem::Const(c) => {
                let default = c.default.as_ref().map(|(_, e)| format!(" = {}", tokens(e)));
                let signature = format!(
                    "{}const {}: {}{}",
                    attrs(&c.attrs),
                    c.ident,
                    tokens(&c.ty),
                    default.unwrap_or_default()
                );
                let path = format!("{trait_path}::{}", c.ident);
                self.add(&path, "trait const", signature, docs(&c.attrs));
            }
            TraitItem::Type(t) => {
                let signature = format!(
                    "{}type {}{}: {} {}",
                    attrs(&t.attrs),
                    t.ident,
                    tokens(&t.generics),
                    tokens(&t.bounds),
                    t.default
                        .as_ref()
                        .map(|(_, ty)| tokens(ty))
                        .unwrap_or_default()
                );
                let path = format!("{trait_path}::{}", t.ident);
                self.add(&path, "trait type", signature, docs(&t.attrs));
            }
            _ => {}
        }
    }

    fn impl_block(&mut self, module: &str, block: &syn::ItemImpl) {
        if is_cfg_test(&block.attrs) {
            return;
        }
        let self_type = squeeze(&tokens(&block.self_ty));
        let base = base_name(&block.self_ty).unwrap_or_default();
        let generics = tokens(&block.generics);
        let where_clause = tokens(&block.generics.where_clause);
        let Some((negative, trait_path, _)) = &block.trait_ else {
            // Inherent methods: only the public ones are API.
            for item in &block.items {
                let (name, kind, signature, item_docs) = match item {
                    ImplItem::Fn(f) if is_pub(&f.vis) => (
                        f.sig.ident.to_string(),
                        "method",
                        format!("{}{}", attrs(&f.attrs), signature(&f.sig)),
                        docs(&f.attrs),
                    ),
                    ImplItem::Const(c) if is_pub(&c.vis) => (
                        c.ident.to_string(),
                        "assoc const",
                        format!(
                            "{}const {}: {} = {}",
                            attrs(&c.attrs),
                            c.ident,
                            tokens(&c.ty),
                            tokens(&c.expr)
                        ),
                        docs(&c.attrs),
                    ),
                    _ => continue,
                };
                let key = Key {
                    path: format!("{module}::{self_type}::{name}"),
                    kind: kind.to_owned(),
                };
                let signature =
                    format!("impl{generics} {self_type} {where_clause} {{ {signature} }}");
                let entry = Entry {
                    signature,
                    docs: item_docs,
                };
                self.impls.push((base.clone(), key, entry));
            }
            return;
        };
        let header = format!(
            "{}impl{generics} {}{} for {self_type} {where_clause}",
            tokens(&block.unsafety),
            tokens(negative),
            tokens(trait_path)
        );
        let header = squeeze(&header);
        let mut names = Vec::new();
        for item in &block.items {
            let (name, signature, item_docs) = match item {
                ImplItem::Fn(f) => (
                    format!("fn {}", f.sig.ident),
                    format!("{}{}", attrs(&f.attrs), signature(&f.sig)),
                    docs(&f.attrs),
                ),
                ImplItem::Type(t) => (
                    format!("type {}", t.ident),
                    format!("{}type {} = {}", attrs(&t.attrs), t.ident, tokens(&t.ty)),
                    docs(&t.attrs),
                ),
                ImplItem::Const(c) => (
                    format!("const {}", c.ident),
                    format!(
                        "{}const {}: {} = {}",
                        attrs(&c.attrs),
                        c.ident,
                        tokens(&c.ty),
                        tokens(&c.expr)
                    ),
                    docs(&c.attrs),
                ),
                _ => continue,
            };
            names.push(name.clone());
            let key = Key {
                path: format!("{module}::{{{header}}}::{name}"),
                kind: "impl item".to_owned(),
            };
            let entry = Entry {
                signature,
                docs: item_docs,
            };
            self.impls.push((base.clone(), key, entry));
        }
        let key = Key {
            path: format!("{module}::{{{header}}}"),
            kind: "impl".to_owned(),
        };
        let entry = Entry {
            signature: format!("{}{header} {{ {} }}", attrs(&block.attrs), names.join("; ")),
            docs: docs(&block.attrs),
        };
        self.impls.push((base, key, entry));
    }
}

fn is_pub(vis: &Visibility) -> bool {
    matches!(vis, Visibility::Public(_))
}

fn is_cfg_test(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("cfg") && tokens(&a.meta).replace(' ', "") == "cfg(test)")
}

/// The name of the type an impl is for: `Foo` for `Foo<T>` and `&mut Foo`.
fn base_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        Type::Reference(r) => base_name(&r.elem),
        Type::Paren(p) => base_name(&p.elem),
        Type::Group(g) => base_name(&g.elem),
        _ => None,
    }
}

fn tokens(node: &impl ToTokens) -> String {
    node.to_token_stream().to_string()
}

/// The doc comment: `///` lines and `#[doc = "..."]`, trailing blanks trimmed.
fn docs(attrs: &[Attribute]) -> Vec<String> {
    let mut lines = Vec::new();
    for attr in attrs {
        if let Meta::NameValue(nv) = &attr.meta {
            if nv.path.is_ident("doc") {
                if let Expr::Lit(lit) = &nv.value {
                    if let Lit::Str(s) = &lit.lit {
                        lines.extend(s.value().lines().map(|l| l.trim_end().to_owned()));
                    }
                }
            }
        }
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// The attributes that are part of an item's API: derives, `repr`, `must_use`,
/// `non_exhaustive`, `#[doc(hidden)]`... Doc comments are compared on their own; lint
/// levels and hints such as `inline` are the author's business, and a skeleton often
/// needs an `#[allow(unused)]` that its solution does not.
fn attrs(attrs: &[Attribute]) -> String {
    const NOT_API: [&str; 8] = [
        "allow", "expect", "warn", "deny", "forbid", "inline", "rustfmt", "clippy",
    ];
    let mut out = String::new();
    for attr in attrs {
        let first = attr
            .path()
            .segments
            .first()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        if NOT_API.contains(&first.as_str()) {
            continue;
        }
        if let Meta::NameValue(nv) = &attr.meta {
            if nv.path.is_ident("doc") {
                continue;
            }
        }
        out.push_str(&tokens(attr));
        out.push(' ');
    }
    out
}

/// A function's signature without what only its body cares about: `mut` on a
/// parameter, a leading `_` that silences an unused parameter in a skeleton, and
/// parameters' attributes.
fn signature(sig: &Signature) -> String {
    let mut sig = sig.clone();
    // Only the top-level parameters bind names: nested function types have no patterns.
    for arg in sig.inputs.iter_mut() {
        match arg {
            FnArg::Receiver(receiver) => {
                receiver.attrs.clear();
                // `mut self` binds mutably; `&mut self` is a type and stays.
                if receiver.reference.is_none() {
                    receiver.mutability = None;
                }
            }
            FnArg::Typed(typed) => {
                typed.attrs.clear();
                if let Pat::Ident(binding) = typed.pat.as_mut() {
                    binding.mutability = None;
                    let name = binding.ident.to_string();
                    if let Some(rest) = name.strip_prefix('_').filter(|r| !r.is_empty()) {
                        binding.ident = syn::Ident::new(rest, binding.ident.span());
                    }
                }
            }
        }
    }
    tokens(&sig)
}

/// `a::{b, c as d, e::*}` as `a::b`, `a::c as d`, `a::e::*`.
fn flatten_use(prefix: String, tree: &UseTree, out: &mut Vec<String>) {
    let join = |name: &dyn Display| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}::{name}")
        }
    };
    match tree {
        UseTree::Path(p) => flatten_use(join(&p.ident), &p.tree, out),
        UseTree::Name(n) => out.push(join(&n.ident)),
        UseTree::Rename(r) => out.push(format!("{} as {}", join(&r.ident), r.rename)),
        UseTree::Glob(_) => out.push(join(&"*")),
        UseTree::Group(g) => {
            for tree in &g.items {
                flatten_use(prefix.clone(), tree, out);
            }
        }
    }
}

/// Files that the student is given (module doc `//! Given: ...`) whole: each must be
/// the same, byte for byte, in the skeleton and the solution, or the two would drift
/// apart behind an equal API.
pub fn given_files_differ(solution_dir: &Path, skeleton_dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    crate::chapters::rust_files(&skeleton_dir.join("src"), &mut files);
    files.sort();
    let mut out = Vec::new();
    for skeleton_file in files {
        let Ok(skeleton) = fs::read_to_string(&skeleton_file) else {
            continue;
        };
        if !skeleton.starts_with("//! Given") {
            continue;
        }
        let relative = skeleton_file
            .strip_prefix(skeleton_dir)
            .unwrap_or(&skeleton_file);
        let solution = fs::read_to_string(solution_dir.join(relative)).unwrap_or_default();
        if solution != skeleton {
            out.push(format!(
                "{}: a given file, but it differs from the solution's",
                relative.display()
            ));
        }
    }
    out
}

/// The differences between a solution's surface and a skeleton's, readably, in path
/// order.
pub fn diff(solution: &Surface, skeleton: &Surface) -> Vec<String> {
    let mut out = Vec::new();
    let keys: BTreeSet<&Key> = solution.items.keys().chain(skeleton.items.keys()).collect();
    for key in keys {
        match (solution.items.get(key), skeleton.items.get(key)) {
            (Some(_), None) => out.push(format!("{key}: missing from the skeleton")),
            (None, Some(_)) => out.push(format!("{key}: only in the skeleton")),
            (Some(sol), Some(skel)) => {
                if sol.signature != skel.signature {
                    out.push(format!(
                        "{key}: signature differs\n      solution: {}\n      skeleton: {}",
                        squeeze(&sol.signature),
                        squeeze(&skel.signature)
                    ));
                }
                if sol.docs != skel.docs {
                    out.push(format!(
                        "{key}: doc comment differs\n{}",
                        doc_diff(&sol.docs, &skel.docs)
                    ));
                }
            }
            (None, None) => {}
        }
    }
    out
}

/// Tokens printed the way people write them (`Receiver<T>`, `fn f(&self)`), and
/// without the gaps that empty parts (no generics, no where clause) leave. Both sides
/// go through it, so it changes nothing that is compared.
fn squeeze(text: &str) -> String {
    let mut out = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for (from, to) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" < ", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" , ", ", "),
        (" : ", ": "),
        ("& ", "&"),
        (" (", "("),
        ("( ", "("),
        (" )", ")"),
        ("# [", "#["),
        (" ;", ";"),
        ("{ }", "{}"),
    ] {
        out = out.replace(from, to);
    }
    out
}

/// The first line where two doc comments part.
fn doc_diff(solution: &[String], skeleton: &[String]) -> String {
    let line = solution
        .iter()
        .zip(skeleton)
        .position(|(a, b)| a != b)
        .unwrap_or(solution.len().min(skeleton.len()));
    let show = |lines: &[String]| match lines.get(line) {
        Some(text) => format!("{:?}", text),
        None => "(ends here)".to_owned(),
    };
    format!(
        "      line {}: solution: {}\n      line {}: skeleton: {}",
        line + 1,
        show(solution),
        line + 1,
        show(skeleton)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn surface_of(source: &str) -> Surface {
        let file = syn::parse_file(source).expect("test source parses");
        let mut surface = Surface::default();
        surface.items_of("krate", &file.items);
        surface.finish();
        surface
    }

    #[test]
    fn bodies_comments_and_private_items_do_not_count() {
        let solution = surface_of(
            "/// Adds.\npub fn add(mut a: u32, b: u32) -> u32 { a += b; a }\nfn helper() {}\n",
        );
        let skeleton = surface_of(
            "/// Adds.\n#[allow(unused)]\npub fn add(a: u32, _b: u32) -> u32 {\n    // TODO\n    todo!()\n}\n",
        );
        assert_eq!(diff(&solution, &skeleton), Vec::<String>::new());
    }

    #[test]
    fn a_changed_signature_and_doc_show() {
        let solution = surface_of("/// Adds two.\npub fn add(a: u32, b: u32) -> u32 { a + b }");
        let skeleton = surface_of("/// Adds.\npub fn add(a: u32, b: u64) -> u32 { todo!() }");
        let found = diff(&solution, &skeleton);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[0].starts_with("krate::add (fn): signature differs"));
        assert!(found[1].starts_with("krate::add (fn): doc comment differs"));
    }

    #[test]
    fn fields_variants_methods_and_impls_count() {
        let solution = surface_of(
            "pub struct S { pub a: u8, b: u8 }\n\
             pub enum E { A { x: u8 }, B }\n\
             impl S { pub fn get(&self) -> u8 { self.a } fn private(&self) {} }\n\
             impl Default for S { fn default() -> S { S { a: 0, b: 0 } } }\n\
             struct Hidden; impl Drop for Hidden { fn drop(&mut self) {} }",
        );
        let skeleton = surface_of(
            "pub struct S { pub a: u16, b: u8 }\n\
             pub enum E { A { x: u8 }, C }\n\
             impl S { pub fn get(&mut self) -> u8 { todo!() } }\n",
        );
        let found = diff(&solution, &skeleton).join("\n");
        assert!(
            found.contains("krate::S.a (field): signature differs"),
            "{found}"
        );
        assert!(
            found.contains("krate::E::B (variant): missing from the skeleton"),
            "{found}"
        );
        assert!(
            found.contains("krate::E::C (variant): only in the skeleton"),
            "{found}"
        );
        assert!(
            found.contains("krate::S::get (method): signature differs"),
            "{found}"
        );
        assert!(found.contains("impl Default for S"), "{found}");
        assert!(!found.contains("Hidden"), "{found}");
    }

    #[test]
    fn module_paths() {
        assert_eq!(module_path("c", Path::new("lib.rs")), "c");
        assert_eq!(module_path("c", Path::new("a.rs")), "c::a");
        assert_eq!(module_path("c", Path::new("a/mod.rs")), "c::a");
        assert_eq!(module_path("c", Path::new("a/b.rs")), "c::a::b");
    }
}
