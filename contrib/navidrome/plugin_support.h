// The Navidrome plugin's support code (plugin_support.c): the Extism imports, a bump heap, a
// growing byte string, Extism memory and configuration, a JSON scanner, URL and JSON escaping,
// base64. plugin.c holds the calls Navidrome makes. WebAssembly without libc: nothing here comes
// from a C library.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define IMPORT_ENV(name) __attribute__((import_module("extism:host/env"), import_name(name)))
#define IMPORT_USER(name) __attribute__((import_module("extism:host/user"), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name), visibility("default")))

IMPORT_ENV("input_length") extern uint64_t x_input_length(void);
IMPORT_ENV("input_load_u8") extern uint32_t x_input_load_u8(uint64_t);
IMPORT_ENV("alloc") extern uint64_t x_alloc(uint64_t);
IMPORT_ENV("free") extern void x_free(uint64_t);
IMPORT_ENV("length") extern uint64_t x_length(uint64_t);
IMPORT_ENV("load_u8") extern uint32_t x_load_u8(uint64_t);
IMPORT_ENV("store_u8") extern void x_store_u8(uint64_t, uint32_t);
IMPORT_ENV("load_u64") extern uint64_t x_load_u64(uint64_t);
IMPORT_ENV("store_u64") extern void x_store_u64(uint64_t, uint64_t);
IMPORT_ENV("output_set") extern void x_output_set(uint64_t, uint64_t);
IMPORT_ENV("error_set") extern void x_error_set(uint64_t);
IMPORT_ENV("config_get") extern uint64_t x_config_get(uint64_t);
IMPORT_USER("http_send") extern uint64_t x_http_send(uint64_t);

// A growing byte string.
typedef struct {
  char* p;
  size_t n, cap;
} Buf;

// A JSON value: its text in the document.
typedef struct {
  const char* p;
  size_t n;
} Span;

// Set by any allocation that failed: the call then fails saying so (fail), never half-answers.
extern int out_of_memory;

// Every exported call starts with an empty heap and no failed allocation.
void start_call(void);
void* take(size_t n);  // n bytes of the heap, 0 (and out_of_memory set) when it is full

// Buf: append bytes or a C string (0 when the heap is full).
int put(Buf* b, const char* s, size_t n);
int puts_(Buf* b, const char* s);
size_t slen(const char* s);

// Extism memory, the call's outcome and the plugin's configuration.
uint64_t to_extism(const char* s, size_t n);
char* from_extism(uint64_t off, size_t* n);
int32_t fail(const char* message);  // the call fails with "clapsearch: " + message
int32_t answer(const Buf* b);
char* config(const char* key);  // "" when absent, surrounding blanks taken off
int starts_with_nocase(const char* s, const char* prefix);
int has_control(const char* s);

// JSON: the value after white space, the end of a value, an object's member, a string's text, a
// number's digits.
const char* ws(const char* p, const char* e);
const char* skip(const char* p, const char* e);
Span member(Span obj, const char* key);
int is_string(Span v);
char* text(Span v);
char* number(Span v);

// Escaping for clapsearch's requests and Navidrome's answers, and the host's base64 bodies.
void put_json_string(Buf* b, const char* s);
void put_query(Buf* b, const char* name, const char* value);
char* base64_decode(const char* s, size_t* out_n);
