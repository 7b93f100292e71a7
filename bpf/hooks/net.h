/* SPDX-License-Identifier: GPL-2.0-only */
/* Sockets: creation, connect/bind with the address, listen, accept. */
#ifndef KRSI_HOOKS_NET_H
#define KRSI_HOOKS_NET_H

#define KRSI_AF_INET 2
#define KRSI_AF_INET6 10

SEC("lsm/socket_create")
int BPF_PROG(krsi_socket_create, int family, int type, int protocol, int kern, int ret)
{
	struct krsi_facts *f;

	if (ret || kern)
		return ret; /* the kernel's own sockets are not the caller's doing */
	f = krsi_begin(KRSI_HOOK_SOCKET_CREATE);
	if (!f)
		return 0;
	f->num[KRSI_F_A0 + 2] = family;
	f->num[KRSI_F_A0 + 3] = type & 0xf; /* without SOCK_NONBLOCK/SOCK_CLOEXEC */
	f->num[KRSI_F_A0 + 4] = protocol;
	return krsi_decide(f);
}

static __always_inline void socket_facts(struct krsi_facts *f, struct socket *sock)
{
	f->num[KRSI_F_A0 + 2] = BPF_CORE_READ(sock, sk, __sk_common.skc_family);
	f->num[KRSI_F_A0 + 3] = BPF_CORE_READ(sock, type);
}

/*
 * net.port in A4 (host order), net.addr in A5/A6 as 16 bytes in network
 * order, IPv4 mapped to ::ffff:a.b.c.d so one trie holds both families.
 */
static __always_inline int addr_hook(__u32 hook, struct socket *sock, struct sockaddr *address,
				     int addrlen)
{
	struct krsi_facts *f = krsi_begin(hook);
	__u16 family = 0;
	__u8 *a;

	if (!f)
		return 0;
	socket_facts(f, sock);
	bpf_probe_read_kernel(&family, sizeof(family), &address->sa_family);
	a = (__u8 *)&f->num[KRSI_F_A0 + 5];
	if (family == KRSI_AF_INET && addrlen >= (int)sizeof(struct sockaddr_in)) {
		struct sockaddr_in *in = (struct sockaddr_in *)address;
		__u16 port = 0;

		bpf_probe_read_kernel(&port, 2, &in->sin_port);
		f->num[KRSI_F_A0 + 4] = bpf_ntohs(port);
		a[10] = 0xff;
		a[11] = 0xff;
		bpf_probe_read_kernel(&a[12], 4, &in->sin_addr);
	} else if (family == KRSI_AF_INET6 && addrlen >= (int)sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)address;
		__u16 port = 0;

		bpf_probe_read_kernel(&port, 2, &in6->sin6_port);
		f->num[KRSI_F_A0 + 4] = bpf_ntohs(port);
		bpf_probe_read_kernel(a, 16, &in6->sin6_addr);
	}
	f->num[KRSI_F_A0 + 7] = family; /* the address's own family */
	return krsi_decide(f);
}

SEC("lsm/socket_connect")
int BPF_PROG(krsi_socket_connect, struct socket *sock, struct sockaddr *address, int addrlen,
	     int ret)
{
	if (ret)
		return ret;
	return addr_hook(KRSI_HOOK_SOCKET_CONNECT, sock, address, addrlen);
}

SEC("lsm/socket_bind")
int BPF_PROG(krsi_socket_bind, struct socket *sock, struct sockaddr *address, int addrlen, int ret)
{
	if (ret)
		return ret;
	return addr_hook(KRSI_HOOK_SOCKET_BIND, sock, address, addrlen);
}

SEC("lsm/socket_listen")
int BPF_PROG(krsi_socket_listen, struct socket *sock, int backlog, int ret)
{
	struct krsi_facts *f;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_SOCKET_LISTEN);
	if (!f)
		return 0;
	socket_facts(f, sock);
	return krsi_decide(f);
}

SEC("lsm/socket_accept")
int BPF_PROG(krsi_socket_accept, struct socket *sock, struct socket *newsock, int ret)
{
	struct krsi_facts *f;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_SOCKET_ACCEPT);
	if (!f)
		return 0;
	socket_facts(f, sock);
	return krsi_decide(f);
}

#endif
