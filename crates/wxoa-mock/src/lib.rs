//! A fake WeChat platform for tests and offline development.
//!
//! # Layout
//! - [`api`]: the outbound API (`/cgi-bin/...`, `/sns/...`) in memory, with the platform's
//!   validation and errcodes, error injection and inspection under `/mock/...`.
//! - [`driver`]: the platform's side of the callback: builds, signs and encrypts pushes, posts
//!   them with the platform's timeout and retries, and judges the reply as the platform would.
//! - [`llm`]: a fake OpenAI-compatible model server for chat rules (`wxoa mock --llm`).

pub mod api;
pub mod driver;
pub mod llm;
