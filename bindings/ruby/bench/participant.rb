# frozen_string_literal: true

# Our elector from Ruby as a participant of the chaos suite (tests/chaos):
# COUNT electors in one process, with client-go's timings.
#
#   ruby bench/participant.rb KUBECONFIG LEASE IDENTITY [COUNT] [--work]
#
# Every event is one line on stdout, in the format all participants share:
#
#   <CLOCK_MONOTONIC ns> <elector index> <event> [detail]
#
# with the events started, acquired, lost and stopped. With --work each
# elector does leader work through `lead`: units of up to 10 ms of CPU and a
# sleep of up to 100 ms, printed as unit_begin and unit_end, checking
# `lost?` between units. SIGTERM stops every elector (releasing held leases
# once the work has returned) and exits.
require "kubernetes_leader_election"

kubeconfig, lease, identity, count, *flags = ARGV
abort "usage: participant.rb KUBECONFIG LEASE IDENTITY [COUNT] [--work]" unless kubeconfig && lease && identity
count = Integer(count || 1)
work = flags.include?("--work")
OUT = Mutex.new

def print_event(index, event, detail = "")
  at = Process.clock_gettime(Process::CLOCK_MONOTONIC, :nanosecond)
  OUT.synchronize { $stdout.write("#{at} #{index} #{event} #{detail}\n") }
end

def unit(index, term)
  print_event(index, "unit_begin", "term=#{term}")
  busy_until = Process.clock_gettime(Process::CLOCK_MONOTONIC) + (rand * 0.010)
  nil while Process.clock_gettime(Process::CLOCK_MONOTONIC) < busy_until
  sleep(rand * 0.100)
  print_event(index, "unit_end")
end

$stdout.sync = true
electors = Array.new(count) do |index|
  elector = KubernetesLeaderElection::Elector.new(
    lease, namespace: "default", identity: count > 1 ? "#{identity}-#{index}" : identity,
           kubeconfig: kubeconfig, context: "elector", lease_duration: 15, renew_deadline: 10, retry_period: 2
  )
  elector.on_acquired { |event| print_event(index, "acquired", "term=#{event[:term]}") }
  elector.on_lost { |event| print_event(index, "lost", "reason=#{event[:reason]}") }
  elector.on_stopped { print_event(index, "stopped") }
  elector
end

threads = electors.each_with_index.map do |elector, index|
  print_event(index, "started")
  if work
    Thread.new { elector.lead(interrupt: false) { |leadership| unit(index, leadership.term) until leadership.lost? } }
  else
    elector.start
    nil
  end
end

stop = Queue.new
Signal.trap("TERM") { stop << true }
Signal.trap("INT") { stop << true }
stop.pop
electors.map { |elector| Thread.new { elector.stop } }.each(&:join)
threads.compact.each(&:join)
