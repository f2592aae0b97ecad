//! Integration tests of wxoa-api against a fake platform (wiremock), one module per endpoint family plus the token provider.

mod support;

mod custom;
mod errors;
mod jssdk;
mod media;
mod menu;
mod misc;
mod oauth;
mod qrcode;
mod tags;
mod template;
mod token;
mod user;
