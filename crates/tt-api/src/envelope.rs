//! The success envelope: `{"data": …}`, plus `"meta": {"page", "per_page", "total"}` on lists.

use axum::Json;
use axum::http::StatusCode;
use serde::Serialize;
use tt_store::{Page, PageRequest};

/// A single resource.
#[derive(Debug, Serialize)]
pub(crate) struct Data<T> {
    data: T,
}

/// One page of a list.
#[derive(Debug, Serialize)]
pub(crate) struct List<T> {
    data: Vec<T>,
    meta: Meta,
}

/// Where a page sits in the whole list.
#[derive(Debug, Serialize)]
struct Meta {
    page: u32,
    per_page: u32,
    total: u64,
}

/// 200 with `value`.
pub(crate) fn ok<T: Serialize>(value: T) -> Json<Data<T>> {
    Json(Data { data: value })
}

/// 201 with the created `value`.
pub(crate) fn created<T: Serialize>(value: T) -> (StatusCode, Json<Data<T>>) {
    (StatusCode::CREATED, ok(value))
}

/// 200 with one page of a list.
pub(crate) fn list<T: Serialize>(page: Page<T>, request: PageRequest) -> Json<List<T>> {
    Json(List {
        data: page.items,
        meta: Meta { page: request.page, per_page: request.per_page, total: page.total },
    })
}

/// Cuts one page out of a list held in full (for the few lists the store returns whole).
pub(crate) fn page_of<T>(items: Vec<T>, request: PageRequest) -> Page<T> {
    let total = items.len() as u64;
    let skip = usize::try_from(request.offset()).unwrap_or(usize::MAX);
    let items = items.into_iter().skip(skip).take(request.per_page as usize).collect();
    Page { items, total }
}
