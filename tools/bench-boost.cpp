// SPDX-License-Identifier: MIT
// Boost.Interprocess message_queue behind bench-peers.h's C functions: an
// exception becomes a negative errno value.
#include "config.h"

#include <cerrno>
#include <new>

#include <boost/interprocess/ipc/message_queue.hpp>

#include "bench-peers.h"

namespace bip = boost::interprocess;

namespace {

int error_of(const bip::interprocess_exception &e)
{
	int native = e.get_native_error();

	return native > 0 ? -native : -EIO;
}

} // namespace

int boost_mq_create(const char *name, size_t size, unsigned depth)
{
	try {
		bip::message_queue queue(bip::create_only, name, depth, size);
	} catch (const bip::interprocess_exception &e) {
		return error_of(e);
	}
	return 0;
}

int boost_mq_open(const char *name, void **queue)
{
	try {
		*queue = new bip::message_queue(bip::open_only, name);
	} catch (const bip::interprocess_exception &e) {
		return error_of(e);
	} catch (const std::bad_alloc &) {
		return -ENOMEM;
	}
	return 0;
}

int boost_mq_send(void *queue, const void *msg, size_t size)
{
	try {
		static_cast<bip::message_queue *>(queue)->send(msg, size, 0);
	} catch (const bip::interprocess_exception &e) {
		return error_of(e);
	}
	return 0;
}

int boost_mq_recv(void *queue, void *buf, size_t size)
{
	bip::message_queue::size_type got;
	unsigned priority;

	try {
		static_cast<bip::message_queue *>(queue)->receive(buf, size, got, priority);
	} catch (const bip::interprocess_exception &e) {
		return error_of(e);
	}
	return got == size ? 0 : -EMSGSIZE;
}

void boost_mq_close(void *queue)
{
	delete static_cast<bip::message_queue *>(queue);
}

void boost_mq_remove(const char *name)
{
	bip::message_queue::remove(name);
}
