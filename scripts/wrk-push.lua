-- wrk script for scripts/bench-serve.sh: every request is a distinct, authenticated GitLab
-- push event (its own sha, so none is a duplicate), shaped like tests/data/push.json.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  secret = os.getenv("BENCH_SECRET") or "bench-secret"
  -- Several wrk processes at once (one per replica) each set their own prefix.
  prefix = tonumber(os.getenv("BENCH_PREFIX") or "0")
  -- BENCH_DELAY_MS paces each connection (a pause before each request): an offered rate of
  -- about connections x 1000 / (pause + latency) a second, instead of as fast as answers come.
  pace = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
  template = [[{"object_kind":"push","event_name":"push","before":"0000000000000000000000000000000000000000","after":"%s","ref":"refs/heads/bench-%d-%d","checkout_sha":"%s","user_id":4,"user_name":"Bench","user_username":"bench","user_email":"bench@example.com","project_id":15,"project":{"id":15,"name":"default.project","web_url":"http://gitlab.example.com/product-7/default.project","namespace":"product-7","path_with_namespace":"product-7/default.project","default_branch":"main"},"commits":[{"id":"%s","message":"bench\n","title":"bench","timestamp":"2026-11-03T10:12:31+01:00","author":{"name":"Bench","email":"bench@example.com"},"added":[],"modified":["runtimes/dr-dev.yaml"],"removed":[]}],"total_commits_count":1}]]
end

function request()
  counter = counter + 1
  local sha = string.format("%04x%04x%08x%024x", prefix, tid, counter, 0)
  local body = string.format(template, sha, prefix * 100 + tid, counter % 64, sha, sha)
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-Gitlab-Event"] = "Push Hook",
    ["X-Gitlab-Token"] = secret,
    ["Idempotency-Key"] = "bench-" .. sha,
  }
  return wrk.format("POST", "/webhook/gitlab", headers, body)
end

function delay()
  return pace
end
