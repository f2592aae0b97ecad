//! Integration tests of wxoa-api against a fake platform (wiremock), one module per endpoint family plus the token provider.

mod support;

mod blacklist;
mod custom;
mod datacube;
mod draft;
mod errors;
mod jssdk;
mod kf;
mod mass;
mod material;
mod media;
mod menu;
mod misc;
mod oauth;
mod publish;
mod qrcode;
mod shorten;
mod subscribe;
mod tags;
mod template;
mod token;
mod user;
