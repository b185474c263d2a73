//! Kestra's filters, functions and tests (spec §7.6–7.8), registered into an [`Engine`].
//! The core registers first (`builtins.rs`: Pebble tests, `range`, `render`, `renderOnce`).

mod filters;
mod functions;
pub(crate) mod ion;
mod java_date;
mod tests;
mod util;

use crate::Engine;
use filters::{collections as c, dates as d, json as j, numbers as n, strings as s};

/// Registers the whole library.
pub(crate) fn register_all(e: &mut Engine) {
    // Pebble built-in filters Kestra keeps.
    e.register_filter("abbreviate", s::abbreviate);
    e.register_filter("abs", n::abs);
    e.register_filter("base64encode", s::base64encode);
    e.register_filter("base64decode", s::base64decode);
    e.register_filter("capitalize", s::capitalize);
    e.register_filter("default", c::default);
    e.register_filter("first", c::first);
    e.register_filter("join", c::join);
    e.register_filter("last", c::last);
    e.register_filter("length", c::length);
    e.register_filter("lower", s::lower);
    e.register_filter("merge", c::merge);
    e.register_filter("numberFormat", n::number_format);
    e.register_filter("reverse", c::reverse);
    e.register_filter("rsort", c::rsort);
    e.register_filter("sha256", s::sha256);
    e.register_filter("slice", c::slice);
    e.register_filter("sort", c::sort);
    e.register_filter("split", s::split);
    e.register_filter("title", s::title);
    e.register_filter("trim", s::trim);
    e.register_filter("upper", s::upper);
    e.register_filter("urlencode", s::urlencode);

    // Kestra filters.
    e.register_filter("chunk", c::chunk);
    e.register_filter("className", n::class_name_filter);
    e.register_filter("date", d::date);
    e.register_filter("dateAdd", d::date_add);
    e.register_filter("distinct", c::distinct);
    e.register_filter("endsWith", s::ends_with);
    e.register_filter("escapeChar", s::escape_char);
    e.register_filter("flatten", c::flatten);
    e.register_filter("indent", s::indent);
    e.register_filter("jq", j::jq);
    e.register_filter("json", j::to_json_filter);
    e.register_filter("keys", c::keys);
    e.register_filter("md5", s::md5);
    e.register_filter("nindent", s::nindent);
    e.register_filter("number", n::number);
    e.register_filter("replace", s::replace);
    e.register_filter("sha1", s::sha1);
    e.register_filter("sha512", s::sha512);
    e.register_filter("slugify", s::slugify);
    e.register_filter("startsWith", s::starts_with);
    e.register_filter("string", s::string);
    e.register_filter("substringAfter", s::substring_after);
    e.register_filter("substringAfterLast", s::substring_after_last);
    e.register_filter("substringBefore", s::substring_before);
    e.register_filter("substringBeforeLast", s::substring_before_last);
    e.register_filter("timestamp", d::timestamp);
    e.register_filter("timestampMicro", d::timestamp_micro);
    e.register_filter("timestampMilli", d::timestamp_milli);
    e.register_filter("timestampNano", d::timestamp_nano);
    e.register_filter("toIon", j::to_ion_filter);
    e.register_filter("toJson", j::to_json_filter);
    e.register_filter("urldecode", s::urldecode);
    e.register_filter("values", c::values);
    e.register_filter("yaml", j::yaml_filter);

    // Functions.
    e.register_function("currentEachOutput", functions::current_each_output);
    e.register_function("decrypt", functions::decrypt);
    e.register_function("encrypt", functions::encrypt);
    e.register_function("errorLogs", functions::error_logs);
    e.register_function("fetchContext", functions::print_context);
    e.register_function("fileExists", functions::file_exists);
    e.register_function("fileSize", functions::file_size);
    e.register_function("fileURI", functions::file_uri);
    e.register_function("fromIon", functions::from_ion);
    e.register_function("fromJson", functions::from_json);
    e.register_function("id", functions::id);
    e.register_function("isFileEmpty", functions::is_file_empty);
    e.register_function("json", functions::from_json);
    e.register_function("ksuid", functions::ksuid);
    e.register_function("kv", functions::kv);
    e.register_function("max", functions::max);
    e.register_function("min", functions::min);
    e.register_function("now", d::now);
    e.register_function("printContext", functions::print_context);
    e.register_function("randomInt", functions::random_int);
    e.register_function("randomPort", functions::random_port);
    e.register_function("read", functions::read);
    e.register_function("secret", functions::secret);
    e.register_function("tasksWithState", functions::tasks_with_state);
    e.register_function("uuid", functions::uuid);
    e.register_function("yaml", functions::yaml);

    // Tests.
    e.register_test("json", tests::json);
}
