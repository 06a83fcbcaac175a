/*
 * swift-proxylib demo: loads libcilium.so the way cilium-envoy does and pushes a few conversations through
 * cilium-envoy's datapath logic (Sources/CDatapath), printing what each side receives.
 *
 * No Cilium agent is running here, so no policy is installed: parsers that enforce policy (r2d2,
 * test.headerparser) deny every request, as proxylib does before the first NPDS update arrives.
 *
 *   usage: datapath-demo [path/to/libcilium.so]
 */
#include <stdio.h>
#include <string.h>

#include "datapath.h"

static void show_bytes(const char *who, const uint8_t *bytes, size_t len) {
  printf("    %-18s ", who);
  if (len == 0) {
    printf("(nothing)\n");
    return;
  }
  putchar('"');
  for (size_t i = 0; i < len; i++) {
    unsigned char c = bytes[i];
    if (c == '\n') fputs("\\n", stdout);
    else if (c == '\r') fputs("\\r", stdout);
    else if (c < 0x20 || c > 0x7e) printf("\\x%02x", c);
    else putchar(c);
  }
  printf("\"\n");
}

static void show(const char *who, const dp_buf *b) { show_bytes(who, b->data, b->len); }

/* One client write and one server write through a fresh connection of `proto`. */
static int converse(const dp_library *lib, uint64_t instance, uint64_t id, const char *proto, const char *title,
                    const char *client_says, const char *server_says) {
  dp_conn *conn = NULL;
  FilterResult res = dp_conn_new(lib, instance, proto, id, 1, 1, 2, "10.0.0.1:34567", "10.0.0.2:80", "10.0.0.2",
                                 &conn);
  printf("\n%s  [parser %s]\n", title, proto);
  if (res != FILTER_OK) {
    printf("    connection refused: %s\n", dp_result_name(res));
    return 1;
  }
  dp_buf to_server, to_client;
  dp_buf_init(&to_server);
  dp_buf_init(&to_client);
  show_bytes("client sends", (const uint8_t *)client_says, strlen(client_says));
  res = dp_filter_on_data(conn, (const uint8_t *)client_says, strlen(client_says), 0, &to_server, &to_client);
  if (res == FILTER_OK && server_says != NULL) {
    show_bytes("server sends", (const uint8_t *)server_says, strlen(server_says));
    res = dp_filter_on_write(conn, (const uint8_t *)server_says, strlen(server_says), 0, &to_client);
  }
  show("server receives", &to_server);
  show("client receives", &to_client);
  if (res != FILTER_OK) printf("    connection closed: %s\n", dp_result_name(res));
  dp_buf_free(&to_server);
  dp_buf_free(&to_client);
  dp_conn_free(conn);
  return 0;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "build/libcilium.so";
  dp_library lib;
  char err[512];
  if (dp_library_open(path, &lib, err, sizeof err) != 0) {
    fprintf(stderr, "datapath-demo: %s\n", err);
    return 1;
  }
  uint64_t instance = dp_open_module(&lib, NULL, 0, 0);
  printf("Loaded %s: OpenModule() -> instance %llu\n", path, (unsigned long long)instance);
  if (instance == 0) return 1;

  int failures = 0;
  failures += converse(&lib, instance, 1, "test.lineparser", "Line protocol: PASS lines go through, DROP lines vanish",
                       "PASS hello\nDROP secret\nPASS bye\n", "PASS welcome\n");
  failures += converse(&lib, instance, 2, "test.lineparser", "INJECT: the line is sent back to the client instead",
                       "INJECT echo me\nPASS after\n", NULL);
  failures += converse(&lib, instance, 3, "test.blockparser", "Length-prefixed blocks",
                       "16:PASS block 1\n16:DROP block 2\n", "14:PASS reply\n");
  failures += converse(&lib, instance, 4, "r2d2", "r2d2 without a policy: every request is denied with ERROR",
                       "READ /public/file\r\nHALT\r\n", NULL);
  failures += converse(&lib, instance, 5, "test.lineparser", "A malformed line closes the connection",
                       "PASS fine\nGARBAGE\n", NULL);

  dp_close_module(&lib, instance);
  dp_library_close(&lib);
  printf("\nDone.\n");
  return failures == 0 ? 0 : 1;
}
