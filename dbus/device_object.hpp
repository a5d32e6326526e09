// SPDX-License-Identifier: GPL-2.0-or-later
// org.dmremap1.Device: one per active dm-remap device. Properties are a
// cache the worker fills (at start and on uevents), so reading them never
// waits on device-mapper; methods go to the pool.
#pragma once

#include "async_reply.hpp"
#include "device_adaptor.h"
#include "health_keeper.hpp"
#include "health_props.hpp"

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

namespace dmremap::daemon {

class Daemon;

// Everything the Device interface shows, as plain values to compare.
struct DeviceProps {
    using Spare = std::tuple<std::uint16_t, std::string, std::string, std::uint32_t, std::uint32_t, std::uint32_t,
                             std::string>;
    std::string name, set_uuid, device_node, data_device;
    std::vector<Spare> spares;
    std::uint32_t block_size = 0;
    std::uint64_t remapped = 0, pending = 0, unavailable = 0, spare_used = 0, spare_total = 0;
    std::uint64_t read_errors = 0, write_errors = 0, remap_events = 0, healed = 0;
    std::string state;
    std::string dm_uuid;
    bool metadata_ok = true, exhausted = false, degraded = false;
    std::uint64_t seq = 0;
    // Health: the D-Bus values, and the model's JSON to compare them by.
    std::string health_state = "ok";
    std::vector<std::tuple<std::string, std::string, std::string>> health_reasons;
    std::map<std::string, sdbus::Variant> forecast, last_scan;
    std::string forecast_json, last_scan_json;
};

class DeviceObject final
    : public sdbus::AdaptorInterfaces<org::dmremap1::Device_adaptor, sdbus::ManagedObject_adaptor,
                                      sdbus::Properties_adaptor> {
public:
    // Registers the object and announces it (InterfacesAdded).
    DeviceObject(Daemon &daemon, sdbus::IConnection &connection, DeviceProps props);
    // Announces the removal (InterfacesRemoved), then unregisters.
    ~DeviceObject();

    // The device's values from its status (no I/O).
    static DeviceProps from_status(const std::string &name, const DeviceStatus &status);
    static void set_health(DeviceProps &props, const HealthView &view);
    // Worker thread: takes new values; PropertiesChanged names only those
    // that differ.
    void update(const DeviceProps &props);

private:
    using RemapRow = sdbus::Struct<std::uint64_t, bool, std::uint16_t, std::uint32_t, bool>;
    using SpareRow = sdbus::Struct<std::uint16_t, std::string, std::string, std::uint32_t, std::uint32_t,
                                   std::uint32_t, std::string>;

    void AddSpare(sdbus::Result<std::uint16_t, std::uint32_t> &&result, std::string device,
                  std::map<std::string, sdbus::Variant> options) override;
    using Dict = std::map<std::string, sdbus::Variant>;
    void RemoveSpare(sdbus::Result<Dict> &&result, std::string device, Dict options) override;
    void Remap(sdbus::Result<bool> &&result, std::uint64_t block,
               std::map<std::string, sdbus::Variant> options) override;
    void GetRemaps(sdbus::Result<std::vector<RemapRow>> &&result, std::uint64_t first, std::uint32_t count,
                   std::map<std::string, sdbus::Variant> options) override;
    using HistoryRow = sdbus::Struct<std::int64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t>;
    void GetHistory(sdbus::Result<std::vector<HistoryRow>> &&result, std::int64_t since, std::uint32_t count,
                    Dict options) override;
    void Refresh(sdbus::Result<> &&result, std::map<std::string, sdbus::Variant> options) override;
    void StartScan(sdbus::Result<sdbus::ObjectPath, Dict> &&result, Dict options) override;
    void SetScanSchedule(sdbus::Result<> &&result, std::string schedule, Dict options) override;
    // device_replace.cpp
    void Replace(sdbus::Result<Dict> &&result, std::string new_device, Dict options) override;
    void Stop(sdbus::Result<> &&result, std::map<std::string, sdbus::Variant> options) override;

    std::string Name() override;
    std::string SetUUID() override;
    std::string DeviceNode() override;
    std::string DataDevice() override;
    std::vector<SpareRow> Spares() override;
    std::uint32_t BlockSize() override;
    std::uint64_t Remapped() override;
    std::uint64_t Pending() override;
    std::uint64_t Unavailable() override;
    std::uint64_t SpareUsed() override;
    std::uint64_t SpareTotal() override;
    std::uint64_t ReadErrors() override;
    std::uint64_t WriteErrors() override;
    std::uint64_t RemapEvents() override;
    std::uint64_t Healed() override;
    std::string State() override;
    std::string DmUUID() override;
    bool MetadataOk() override;
    std::uint64_t Seq() override;
    bool Exhausted() override;
    bool Degraded() override;
    std::string HealthState() override;
    std::vector<sdbus::Struct<std::string, std::string, std::string>> HealthReasons() override;
    Dict Forecast() override;
    Dict LastScan() override;

    // One property under the lock: a getter that copied the whole set made
    // GetManagedObjects copy it once per property (docs/PERFORMANCE.md).
    template <typename T> T prop(T DeviceProps::*field) const
    {
        std::lock_guard lock(mutex_);
        return props_.*field;
    }
    // A device call's place: the pool, with the daemon's I/O deadline.
    Placement io(const std::string &what);

    Daemon &daemon_;
    // The device-mapper name never changes for an object (a rename is a
    // removal and an addition), so handlers may read it without the lock.
    const std::string name_;
    mutable std::mutex mutex_;
    DeviceProps props_;
};

} // namespace dmremap::daemon
