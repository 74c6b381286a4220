/* Per-CPU datapath queues: a packet is handled on the CPU where the kernel produced it, by the
 * worker pinned to that CPU, so waking the worker never needs another (possibly halted) CPU.
 *   tunSteerByCpu(fd)          TUN queue = CPU % queues (a 2-instruction eBPF steering program)
 *   udpSteerByCpu(fd, queues)  SO_REUSEPORT socket = CPU % queues (classic BPF on the group)
 *   pinThread(cpus)            sched_setaffinity of the calling thread
 */
#define _GNU_SOURCE
#include "addon.h"
#include <errno.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

/* tunSteerByCpu(fd): the kernel takes the program's result modulo the number of queues. */
static napi_value tun_steer_by_cpu(napi_env env, napi_callback_info info) {
  ovl_args a;
  int fd;
  if (!ovl_args_get(env, info, "tunSteerByCpu", 1, &a) || !ovl_arg_fd(&a, 0, "fd", &fd)) return NULL;
  struct bpf_insn insns[2];
  memset(insns, 0, sizeof insns);
  insns[0].code = BPF_JMP | BPF_CALL; /* r0 = bpf_get_smp_processor_id() */
  insns[0].imm = BPF_FUNC_get_smp_processor_id;
  insns[1].code = BPF_JMP | BPF_EXIT;
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insns = (uint64_t)(uintptr_t)insns;
  attr.insn_cnt = 2;
  attr.license = (uint64_t)(uintptr_t) "GPL";
  int prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  if (prog < 0) return ovl_throw_errno(env, "bpf(BPF_PROG_LOAD)", errno);
  int r = ioctl(fd, TUNSETSTEERINGEBPF, &prog);
  int err = errno;
  close(prog); /* the device holds its own reference */
  if (r < 0) return ovl_throw_errno(env, "TUNSETSTEERINGEBPF", err);
  return NULL;
}

/* udpSteerByCpu(fd, queues): fd is a bound member of the reuseport group; the program's result
 * indexes the group's sockets in bind order. */
static napi_value udp_steer_by_cpu(napi_env env, napi_callback_info info) {
  ovl_args a;
  int fd;
  int32_t queues;
  /* One queue per CPU at most; 0 would be a division by zero in the filter. */
  if (!ovl_args_get(env, info, "udpSteerByCpu", 2, &a) || !ovl_arg_fd(&a, 0, "fd", &fd) ||
      !ovl_arg_i32(&a, 1, "queues", 1, CPU_SETSIZE, &queues))
    return NULL;
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_CPU)),
      BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, (uint32_t)queues),
      BPF_STMT(BPF_RET | BPF_A, 0),
  };
  struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) < 0)
    return ovl_throw_errno(env, "SO_ATTACH_REUSEPORT_CBPF", errno);
  return NULL;
}

/* pinThread(cpus: Int32Array) → 0, or the errno of sched_setaffinity (EINVAL: none allowed). */
static napi_value pin_thread(napi_env env, napi_callback_info info) {
  ovl_args a;
  void *p;
  size_t n;
  if (!ovl_args_get(env, info, "pinThread", 1, &a) || !ovl_arg_typed(&a, 0, "cpus", napi_int32_array, &p, &n)) return NULL;
  const int32_t *cpus = p;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (size_t i = 0; i < n; i++) {
    int32_t c = cpus[i]; /* read once: the value checked is the value used */
    if (c < 0 || c >= CPU_SETSIZE)
      return ovl_range_error(&a, "cpus[%zu] must be a CPU number 0..%d, got %d", i, CPU_SETSIZE - 1, c), NULL;
    CPU_SET(c, &set);
  }
  return ovl_i32(env, sched_setaffinity(0, sizeof set, &set) < 0 ? errno : 0);
}

void ovl_register_steering(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tunSteerByCpu", NULL, tun_steer_by_cpu, NULL, NULL, NULL, napi_default, NULL},
      {"udpSteerByCpu", NULL, udp_steer_by_cpu, NULL, NULL, NULL, napi_default, NULL},
      {"pinThread", NULL, pin_thread, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
