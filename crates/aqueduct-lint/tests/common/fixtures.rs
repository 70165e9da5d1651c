//! The lint fixtures: one module that follows every rule (`good`), and for
//! each rule the same module with the one change that breaks it, written to a
//! temporary directory (a lint root per fixture). Shared by aqueduct-lint's,
//! aqueduct-build's and aqueduct-cli's tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Fixtures written under one temporary directory, removed when dropped.
pub(crate) struct Fixtures {
    dir: PathBuf,
}

impl Fixtures {
    /// Writes `names` (or every fixture, when empty), each to `<dir>/<name>/`.
    pub(crate) fn write(names: &[&str]) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "aqueduct-lint-fixtures-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        for name in if names.is_empty() { NAMES } else { names } {
            let (path, text) = fixture(name);
            let file = dir.join(name).join(path);
            std::fs::create_dir_all(file.parent().expect("a directory")).expect("temp dir");
            std::fs::write(file, text).expect("temp file");
        }
        Self { dir }
    }

    /// The directory holding one directory per fixture.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lint root of fixture `name`.
    pub(crate) fn root(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Fixtures {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every fixture: `good`, one per rule, and the naming edge cases.
pub(crate) const NAMES: &[&str] = &[
    "good",
    "package_version_suffix",
    "package_directory_match",
    "rpc_request_standard_name",
    "rpc_response_standard_name",
    "rpc_request_response_unique",
    "enum_first_value_zero",
    "enum_zero_value_suffix",
    "enum_value_prefix",
    "enum_duplicate_number",
    "response_no_error_fields",
    "service_pascal_case",
    "service_suffix",
    "rpc_pascal_case",
    "message_pascal_case",
    "enum_pascal_case",
    "field_lower_snake_case",
    "enum_value_upper_snake_case",
    "naming_edge_cases",
    "file_lower_snake_case",
];

/// The library module, and what a fixture changes in it.
struct Library {
    path: &'static str,
    package: &'static str,
    service: &'static str,
    method: &'static str,
    request: &'static str,
    response: &'static str,
    genre: &'static str,
    zero_value: &'static str,
    more_values: &'static str,
    field: &'static str,
    response_extra: &'static str,
    extra: &'static str,
}

const GOOD: Library = Library {
    path: "acme/library/v1/library.proto",
    package: "acme.library.v1",
    service: "LibraryService",
    method: "GetBook",
    request: "GetBookRequest",
    response: "GetBookResponse",
    genre: "Genre",
    zero_value: "GENRE_UNSPECIFIED",
    more_values: "  GENRE_FICTION = 1;",
    field: "int32 page_count = 5;",
    response_extra: "",
    extra: "",
};

impl Library {
    fn text(&self) -> String {
        let Library {
            package,
            service,
            method,
            request,
            response,
            genre,
            zero_value,
            more_values,
            field,
            response_extra,
            extra,
            ..
        } = self;
        format!(
            r#"syntax = "proto3";

package {package};

// Books on shelves.
service {service} {{
  // One book.
  rpc {method}({request}) returns ({response});
  // A page of books.
  rpc ListBooks(ListBooksRequest) returns (ListBooksResponse);
}}

message Book {{
  string name = 1;
  string title = 2;
  {genre} genre = 3;
  Format format = 4;
  {field}

  enum Format {{
    FORMAT_UNSPECIFIED = 0;
    FORMAT_PAPERBACK = 1;
  }}
}}

enum {genre} {{
  {zero_value} = 0;
{more_values}
}}

message {request} {{
  string name = 1;
}}

message {response} {{
  Book book = 1;
{response_extra}}}

message ListBooksRequest {{
  int32 page_size = 1;
  string page_token = 2;
}}

message ListBooksResponse {{
  repeated Book books = 1;
  string next_page_token = 2;
}}
{extra}"#
        )
    }
}

/// Fixture `name`: its file (relative to its root) and text.
fn fixture(name: &str) -> (&'static str, String) {
    let library = match name {
        "good" => GOOD,
        "package_version_suffix" => Library {
            path: "acme/library/library.proto",
            package: "acme.library",
            ..GOOD
        },
        "package_directory_match" => Library {
            path: "acme/books/v1/library.proto",
            ..GOOD
        },
        "rpc_request_standard_name" => Library {
            request: "BookQuery",
            ..GOOD
        },
        "rpc_response_standard_name" => Library {
            response: "BookReply",
            ..GOOD
        },
        "rpc_request_response_unique" => Library {
            extra: "
// The same RPC again, sharing its messages.
service MirrorService {
  // One book.
  rpc GetBook(GetBookRequest) returns (GetBookResponse);
}
",
            ..GOOD
        },
        "enum_zero_value_suffix" => Library {
            zero_value: "GENRE_NONE",
            ..GOOD
        },
        "enum_value_prefix" => Library {
            more_values: "  FICTION = 1;",
            ..GOOD
        },
        "enum_duplicate_number" => Library {
            more_values: "  GENRE_FICTION = 1;\n  GENRE_NOVEL = 1;",
            ..GOOD
        },
        "response_no_error_fields" => Library {
            response_extra: "  string error = 2;\n  int32 code = 3;\n",
            ..GOOD
        },
        "service_pascal_case" => Library {
            service: "libraryService",
            ..GOOD
        },
        "service_suffix" => Library {
            service: "Library",
            ..GOOD
        },
        "rpc_pascal_case" => Library {
            method: "getBook",
            ..GOOD
        },
        "message_pascal_case" => Library {
            field: "book_info info = 5;",
            extra: "\nmessage book_info {\n  string isbn = 1;\n}\n",
            ..GOOD
        },
        "enum_pascal_case" => Library {
            genre: "genre",
            ..GOOD
        },
        "field_lower_snake_case" => Library {
            field: "int32 pageCount = 5;",
            ..GOOD
        },
        "enum_value_upper_snake_case" => Library {
            more_values: "  GENRE_fiction = 1;",
            ..GOOD
        },
        "file_lower_snake_case" => Library {
            path: "acme/library/v1/LibraryBooks.proto",
            ..GOOD
        },
        // Not the library module: proto2 (proto3 refuses a non-zero first
        // value outright), and names where case conversions could disagree.
        "enum_first_value_zero" => return (GOOD.path, PROTO2.to_owned()),
        "naming_edge_cases" => return ("acme/edge/v1/edge.proto", EDGE_CASES.to_owned()),
        other => panic!("no fixture {other}"),
    };
    (library.path, library.text())
}

const PROTO2: &str = r#"syntax = "proto2";

package acme.library.v1;

// Books on shelves.
service LibraryService {
  // One book.
  rpc GetBook(GetBookRequest) returns (GetBookResponse);
}

message Book {
  optional string name = 1;
  optional Genre genre = 2;
}

enum Genre {
  GENRE_UNSPECIFIED = 1;
  GENRE_FICTION = 2;
}

message GetBookRequest {
  optional string name = 1;
}

message GetBookResponse {
  optional Book book = 1;
}
"#;

const EDGE_CASES: &str = r#"syntax = "proto3";

package acme.edge.v1;

message HTTPServer {
  string field_1 = 1;
  string fieldx = 2;
  string x_2d = 3;
  string _hidden = 4;
  string a_B = 5;
}

message Ab_c {
  string name = 1;
}

enum Mode2D {
  MODE2_D_UNSPECIFIED = 0;
  MODE_2D_X = 1;
  MODE2D_Y = 2;
}

enum HTTPStatus {
  HTTP_STATUS_UNSPECIFIED = 0;
  HTTPSTATUS_OK = 1;
}
"#;
