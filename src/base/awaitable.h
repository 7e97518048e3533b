#pragma once
// boost::asio::awaitable, plus the include Boost 1.74's awaitable.hpp forgot
// (it uses std::exchange without <utility>).

#include <utility>

#include <boost/asio/awaitable.hpp>
