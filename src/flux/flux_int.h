/*
 * flux_int.h — what the files of src/flux share and nobody else sees.
 */
#ifndef TIP_FLUX_INT_H
#define TIP_FLUX_INT_H

#include <ares.h>
#include <stddef.h>
#include <stdint.h>

/* Batched UDP for c-ares (resolve_io.c): the socket functions a channel is given with
 * ares_set_socket_functions(channel, rs_io_funcs(), io). c-ares sends each query with its own
 * send(2) and reads each answer with its own recvfrom(2); a pass at tens of thousands of
 * answers a second against a local server spends most of its CPU in those calls, and each
 * wake-up of the loop finds ~100 answers to read and sends as many queries. So:
 * - a UDP datagram c-ares sends is queued and reported sent; rs_io_flush sends the queue with
 *   one sendmmsg(2) per socket (and so does a full queue). The loop flushes before it waits.
 *   A datagram the kernel refuses for lack of buffer is dropped with the rest of its socket's
 *   batch (the queries are lost, as on the wire); any other error is kept and returned by that socket's next send, so c-ares sees
 *   it as it would have;
 * - a UDP read takes up to a batch of datagrams with one recvmmsg(2) and hands them to c-ares
 *   one by one, with their source addresses (c-ares checks them against the server's); a batch
 *   that came back short emptied the socket, so the next read says EAGAIN without asking the
 *   kernel, until rs_io_readable says the loop saw the socket readable again;
 * - TCP (truncated answers) goes straight to the kernel.
 * What c-ares no longer does for sockets it does not create (non-blocking, close-on-exec, the
 * receive buffer, TCP_NODELAY) rs_io does. One rs_io serves every channel of a loop; it is not
 * thread-safe (c-ares runs on the loop's thread only). */
struct rs_io;
struct rs_io_stats {
	int64_t sent, send_calls;         /* UDP datagrams sent, sendmmsg calls */
	int64_t dropped;                  /* datagrams the kernel had no buffer for */
	int64_t received, recv_calls;     /* UDP datagrams read, recvmmsg calls */
};
/* rcvbuf: SO_RCVBUF for every socket, 0: the kernel's default */
struct rs_io *rs_io_new(int rcvbuf);
void rs_io_free(struct rs_io *io);
const struct ares_socket_functions *rs_io_funcs(void);
/* the loop saw fd readable: its next read asks the kernel */
void rs_io_readable(struct rs_io *io, int fd);
void rs_io_flush(struct rs_io *io);
void rs_io_stats(const struct rs_io *io, struct rs_io_stats *out);

/* A table indexed by descriptor (*n entries of elem bytes) grown, new entries zeroed, until fd
 * is in it; returns the table (moved, perhaps). */
void *rs_fd_table_grow(void *table, int *n, int fd, size_t elem);

#endif
