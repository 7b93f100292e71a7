/* try_sock: socket calls for the socket_* hooks. Each prints a line
 * starting "ok" and exits 0, or the errno line naming the failed step
 * ("errno=EPERM (...): connect") and exits 126.
 *   create FAMILY TYPE [PROTO]  socket(2); FAMILY unix|inet|inet6|netlink|packet,
 *                               TYPE stream|dgram|raw|seqpacket
 *   connect ADDR PORT [udp]     TCP (or UDP) connect to ADDR (IPv4 or IPv6)
 *   bind ADDR PORT [udp]        TCP (or UDP) bind
 *   listen ADDR PORT            bind, listen, print "listening", accept one
 *                               connection (10 s at most): "ok accepted"
 * A call that hangs (no SYN answer) is ended by a 10 s alarm. */
#include "try_report.h" /* first: it defines _GNU_SOURCE */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <sys/socket.h>

static socklen_t parse_addr(const char *addr, const char *port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	long p = num_arg(port);

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((unsigned short)p);
		return sizeof(*in);
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)p);
		return sizeof(*in6);
	}
	fprintf(stderr, "not an address: %s\n", addr);
	exit(2);
}

static int family_arg(const char *s)
{
	static const struct {
		const char *name;
		int family;
	} f[] = { { "unix", AF_UNIX },	   { "inet", AF_INET },	    { "inet6", AF_INET6 },
		  { "netlink", AF_NETLINK }, { "packet", AF_PACKET } };

	for (unsigned i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (!strcmp(s, f[i].name))
			return f[i].family;
	fprintf(stderr, "unknown family %s\n", s);
	exit(2);
}

static int type_arg(const char *s)
{
	if (!strcmp(s, "stream"))
		return SOCK_STREAM;
	if (!strcmp(s, "dgram"))
		return SOCK_DGRAM;
	if (!strcmp(s, "raw"))
		return SOCK_RAW;
	if (!strcmp(s, "seqpacket"))
		return SOCK_SEQPACKET;
	fprintf(stderr, "unknown type %s\n", s);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "";
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	alarm(10);
	if ((argc == 4 || argc == 5) && !strcmp(op, "create")) {
		int family = family_arg(argv[2]), type = type_arg(argv[3]), proto = 0;

		if (argc == 5)
			proto = (int)num_arg(argv[4]);
		else if (family == AF_PACKET)
			proto = htons(ETH_P_ALL);
		else if (type == SOCK_RAW)
			proto = family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
		if (socket(family, type | SOCK_CLOEXEC, proto) < 0)
			fail_errno("socket");
		printf("ok\n");
		return 0;
	}
	if ((argc == 4 || argc == 5) && (!strcmp(op, "connect") || !strcmp(op, "bind"))) {
		int udp = argc == 5 && !strcmp(argv[4], "udp");

		len = parse_addr(argv[2], argv[3], &ss);
		fd = socket(ss.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
		if (fd < 0)
			fail_errno("socket");
		if (!strcmp(op, "connect")) {
			if (connect(fd, (struct sockaddr *)&ss, len) < 0)
				fail_errno("connect");
		} else {
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(fd, (struct sockaddr *)&ss, len) < 0)
				fail_errno("bind");
		}
		printf("ok\n");
		return 0;
	}
	if (argc == 4 && !strcmp(op, "listen")) {
		len = parse_addr(argv[2], argv[3], &ss);
		fd = socket(ss.ss_family, SOCK_STREAM, 0);
		if (fd < 0)
			fail_errno("socket");
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, len) < 0)
			fail_errno("bind");
		if (listen(fd, 4) < 0)
			fail_errno("listen");
		printf("listening\n");
		fflush(stdout);
		if (accept(fd, NULL, NULL) < 0)
			fail_errno("accept");
		printf("ok accepted\n");
		return 0;
	}
	fprintf(stderr, "usage: try_sock create FAMILY TYPE [PROTO] | connect|bind ADDR PORT [udp] | "
			"listen ADDR PORT\n");
	return 2;
}
