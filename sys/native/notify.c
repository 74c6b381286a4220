/* sd_notify: one datagram to $NOTIFY_SOCKET (a path, or an abstract name starting with '@').
 * Node has no AF_UNIX datagram sockets, so this small piece lives here. */
#include "addon.h"
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* sdNotify(socketPath: string, message: string): undefined; throws on failure. */
napi_value ovl_sd_notify(napi_env env, napi_callback_info info) {
  ovl_args a;
  /* sun_path holds the path and its NUL; a longer message would be cut, so both are refused. */
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  char msg[1024];
  size_t plen = 0, mlen = 0;
  if (!ovl_args_get(env, info, "sdNotify", 2, &a) || !ovl_arg_string(&a, 0, "socketPath", 1, path, sizeof path, &plen) ||
      !ovl_arg_string(&a, 1, "message", 0, msg, sizeof msg, &mlen))
    return NULL;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path, plen);
  socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
  if (path[0] == '@') addr.sun_path[0] = '\0'; /* abstract namespace */
  else alen += 1;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ovl_throw_errno(env, "sd_notify socket", errno);
  ssize_t n = sendto(fd, msg, mlen, MSG_NOSIGNAL, (struct sockaddr *)&addr, alen);
  int err = errno;
  close(fd);
  if (n < 0) return ovl_throw_errno(env, "sd_notify sendto", err);
  return NULL;
}

void ovl_register_notify(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "sdNotify", NAPI_AUTO_LENGTH, ovl_sd_notify, NULL, &fn);
  napi_set_named_property(env, exports, "sdNotify", fn);
}
