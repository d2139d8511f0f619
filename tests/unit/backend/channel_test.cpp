// Channel and ChannelGroup: a group reads several requests' events as one,
// each with its channel's index, in each channel's order, waking on a push
// from another thread instead of polling.
#include <gtest/gtest.h>

#include <thread>

#include "backend/types.h"

using namespace kiln::backend;
using namespace std::chrono_literals;

TEST(ChannelGroup, EveryEventComesOnceWithItsIndexInItsChannelsOrder) {
    std::vector<std::shared_ptr<Channel>> channels{std::make_shared<Channel>(), std::make_shared<Channel>(),
                                                   std::make_shared<Channel>()};
    channels[1]->push(Event::delta("b0"));  // queued before the group: still read
    ChannelGroup group(channels);
    channels[0]->push(Event::delta("a0"));
    channels[1]->push(Event::delta("b1"));
    channels[0]->push(Event::delta("a1"));
    std::vector<std::vector<std::string>> seen(3);
    for (int k = 0; k < 4; ++k) {
        auto got = group.pop(1s);
        ASSERT_TRUE(got);
        seen[got->first].push_back(got->second.as_delta()->text);
    }
    EXPECT_EQ(seen[0], (std::vector<std::string>{"a0", "a1"}));
    EXPECT_EQ(seen[1], (std::vector<std::string>{"b0", "b1"}));
    EXPECT_TRUE(seen[2].empty());
    EXPECT_FALSE(group.pop(10ms));
}

TEST(ChannelGroup, APushFromAnotherThreadWakesTheReader) {
    std::vector<std::shared_ptr<Channel>> channels{std::make_shared<Channel>(), std::make_shared<Channel>()};
    ChannelGroup group(channels);
    std::thread  pusher([&] {
        std::this_thread::sleep_for(20ms);
        channels[1]->push(Event::delta("late"));
    });
    const auto t0  = std::chrono::steady_clock::now();
    auto       got = group.pop(60s);
    pusher.join();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->first, 1u);
    EXPECT_EQ(got->second.as_delta()->text, "late");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);  // woken, not timed out
}

TEST(ChannelGroup, CancelReachesEveryRequest) {
    std::vector<std::shared_ptr<Channel>> channels{std::make_shared<Channel>(), std::make_shared<Channel>()};
    ChannelGroup group(channels);
    group.cancel();
    EXPECT_TRUE(channels[0]->cancelled());
    EXPECT_TRUE(channels[1]->cancelled());
}
