//! The pages' two languages: which one a request gets (an explicit choice, then the browser's
//! Accept-Language) and every fixed text of the pages in each.

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            _ => None,
        }
    }

    /// The other language (the switch on every page offers it).
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Ja,
            Lang::Ja => Lang::En,
        }
    }

    pub fn text(self) -> &'static Text {
        match self {
            Lang::En => &EN,
            Lang::Ja => &JA,
        }
    }
}

/// The language for a request: an explicit choice (`?lang=`, then the cookie it set) wins, then
/// the browser's Accept-Language by quality, then English.
pub fn choose(query: Option<&str>, cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
    if let Some(l) = query.and_then(Lang::parse).or_else(|| cookie.and_then(Lang::parse)) {
        return l;
    }
    accept_language.and_then(from_accept_language).unwrap_or(Lang::En)
}

/// The best of our languages in an Accept-Language header (`ja-JP,ja;q=0.9,en;q=0.8`).
fn from_accept_language(header: &str) -> Option<Lang> {
    let mut best: Option<(f32, Lang)> = None;
    for part in header.split(',').take(20) {
        let mut it = part.split(';');
        let tag = it.next().unwrap_or("").trim();
        let q = it
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or("");
        let Some(lang) = Lang::parse(primary) else { continue };
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map(|(_, l)| l)
}

/// Every fixed text of the pages.
#[derive(Debug)]
pub struct Text {
    pub site: &'static str,
    pub switch_to: &'static str,
    pub events: &'static str,
    pub upcoming: &'static str,
    pub search: &'static str,
    pub search_placeholder: &'static str,
    pub all_categories: &'static str,
    pub no_events: &'static str,
    pub more: &'static str,
    pub starts: &'static str,
    pub ends: &'static str,
    pub where_: &'static str,
    pub organizer: &'static str,
    pub price: &'static str,
    pub free: &'static str,
    pub tickets: &'static str,
    pub remaining: &'static str,
    pub sold_out: &'static str,
    pub apply: &'static str,
    pub by_application: &'static str,
    pub cancelled: &'static str,
    pub sign_in: &'static str,
    pub sign_up: &'static str,
    pub sign_out: &'static str,
    pub signed_in_as: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub name: &'static str,
    pub no_account: &'static str,
    pub have_account: &'static str,
    pub password_hint: &'static str,
    pub application_form: &'static str,
    pub guests: &'static str,
    pub guests_hint: &'static str,
    pub guest: &'static str,
    pub required: &'static str,
    pub choose: &'static str,
    pub review: &'static str,
    pub confirm_title: &'static str,
    pub confirm_hint: &'static str,
    pub submit: &'static str,
    pub edit: &'static str,
    pub fix_errors: &'static str,
    pub applied_title: &'static str,
    pub applied_body: &'static str,
    pub my_applications: &'static str,
    pub status: &'static str,
    pub status_pending: &'static str,
    pub status_approved: &'static str,
    pub status_rejected: &'static str,
    pub status_cancelled: &'static str,
    pub reason: &'static str,
    pub no_applications: &'static str,
    pub choose_form: &'static str,
    pub no_form: &'static str,
    pub error_title: &'static str,
    pub back_home: &'static str,
    pub form_expired: &'static str,
    pub sign_in_to_apply: &'static str,
    pub submitted_at: &'static str,
    pub skip_to_content: &'static str,
    pub language: &'static str,
    pub no_tickets: &'static str,
    pub seat: &'static str,
    pub qr_for: &'static str,
    pub code: &'static str,
    pub printable: &'static str,
    pub resend: &'static str,
    pub resent: &'static str,
    pub my_tickets: &'static str,
    pub dashboard: &'static str,
    pub door: &'static str,
    pub analytics: &'static str,
    pub users: &'static str,
    pub tickets_sold: &'static str,
    pub revenue: &'static str,
    pub your_events: &'static str,
    pub fill_rate: &'static str,
    pub revenue_by_category: &'static str,
    pub category: &'static str,
    pub show: &'static str,
    pub inside_now: &'static str,
    pub sales_over_time: &'static str,
    pub day: &'static str,
    pub checkins_per_hour: &'static str,
    pub hour: &'static str,
    pub gate: &'static str,
    pub entries: &'static str,
    pub pending: &'static str,
    pub export: &'static str,
    pub public_page: &'static str,
    pub applications: &'static str,
    pub no_pending: &'static str,
    pub select: &'static str,
    pub answers: &'static str,
    pub approve_selected: &'static str,
    pub reject_selected: &'static str,
    pub send_tickets: &'static str,
    pub send_all: &'static str,
    pub door_staff: &'static str,
    pub add_staff: &'static str,
    pub back: &'static str,
    pub role: &'static str,
    pub all_roles: &'static str,
    pub disabled: &'static str,
    pub organizers_only: &'static str,
    pub decided: &'static str,
    pub staff_added: &'static str,
}

pub static EN: Text = Text {
    site: "Tessera",
    switch_to: "日本語",
    events: "Events",
    upcoming: "Upcoming events",
    search: "Search",
    search_placeholder: "Name, description…",
    all_categories: "All categories",
    no_events: "No events match.",
    more: "More events",
    starts: "Starts",
    ends: "Ends",
    where_: "Where",
    organizer: "Organizer",
    price: "Price",
    free: "Free",
    tickets: "Tickets",
    remaining: "left",
    sold_out: "Sold out",
    apply: "Apply",
    by_application: "By application",
    cancelled: "Cancelled",
    sign_in: "Sign in",
    sign_up: "Create an account",
    sign_out: "Sign out",
    signed_in_as: "Signed in as",
    email: "E-mail",
    password: "Password",
    name: "Name",
    no_account: "No account yet?",
    have_account: "Already have an account?",
    password_hint: "At least 8 characters.",
    application_form: "Application form",
    guests: "Guests",
    guests_hint: "One ticket per name; leave a line empty for fewer tickets.",
    guest: "Guest",
    required: "required",
    choose: "Choose…",
    review: "Review",
    confirm_title: "Check your application",
    confirm_hint: "Nothing is sent until you press Submit.",
    submit: "Submit",
    edit: "Change",
    fix_errors: "Please correct the fields marked below.",
    applied_title: "Application received",
    applied_body: "The organizer will review it; you will get an e-mail with your tickets once it is approved.",
    my_applications: "My applications",
    status: "Status",
    status_pending: "Pending",
    status_approved: "Approved",
    status_rejected: "Rejected",
    status_cancelled: "Cancelled",
    reason: "Reason",
    no_applications: "You have not applied for anything yet.",
    choose_form: "Choose the event to apply for",
    no_form: "No event is taking applications with this form now.",
    error_title: "Something went wrong",
    back_home: "Back to the events",
    form_expired: "This form has expired or did not come from this site. Please try again.",
    sign_in_to_apply: "Sign in or create an account to apply.",
    submitted_at: "Submitted",
    skip_to_content: "Skip to the content",
    language: "Language",
    no_tickets: "You have no tickets yet.",
    seat: "Seat",
    qr_for: "Ticket QR code for",
    code: "Code",
    printable: "Printable ticket (PDF)",
    resend: "E-mail it again",
    resent: "The ticket is on its way to your inbox.",
    my_tickets: "My tickets",
    dashboard: "Dashboard",
    door: "Door",
    analytics: "Analytics",
    users: "Users",
    tickets_sold: "Tickets sold",
    revenue: "Revenue",
    your_events: "Events",
    fill_rate: "Fill rate",
    revenue_by_category: "Revenue by category",
    category: "Category",
    show: "Show",
    inside_now: "Inside now",
    sales_over_time: "Sales over time",
    day: "Day",
    checkins_per_hour: "Entries per hour and gate",
    hour: "Hour (UTC)",
    gate: "Gate",
    entries: "Entries",
    pending: "Pending applications",
    export: "Download the ticket list (CSV)",
    public_page: "Public page",
    applications: "Applications",
    no_pending: "No application is waiting.",
    select: "Select",
    answers: "Answers",
    approve_selected: "Approve selected",
    reject_selected: "Reject selected",
    send_tickets: "Send tickets",
    send_all: "Also those already sent",
    door_staff: "Door staff",
    add_staff: "Add",
    back: "Back",
    role: "Role",
    all_roles: "All roles",
    disabled: "Disabled",
    organizers_only: "Only organizers and admins may open this page.",
    decided: "Decisions recorded",
    staff_added: "Staff added",
};

pub static JA: Text = Text {
    site: "Tessera",
    switch_to: "English",
    events: "イベント",
    upcoming: "今後のイベント",
    search: "検索",
    search_placeholder: "名前・説明…",
    all_categories: "すべてのカテゴリ",
    no_events: "該当するイベントはありません。",
    more: "さらに表示",
    starts: "開始",
    ends: "終了",
    where_: "会場",
    organizer: "主催",
    price: "料金",
    free: "無料",
    tickets: "チケット",
    remaining: "残り",
    sold_out: "完売",
    apply: "申し込む",
    by_application: "申込制",
    cancelled: "中止",
    sign_in: "ログイン",
    sign_up: "アカウント作成",
    sign_out: "ログアウト",
    signed_in_as: "ログイン中：",
    email: "メールアドレス",
    password: "パスワード",
    name: "氏名",
    no_account: "アカウントをお持ちでない方",
    have_account: "アカウントをお持ちの方",
    password_hint: "8文字以上",
    application_form: "申込フォーム",
    guests: "来場者",
    guests_hint: "1名につきチケット1枚。少ない場合は空欄のままにしてください。",
    guest: "来場者",
    required: "必須",
    choose: "選択してください",
    review: "確認へ進む",
    confirm_title: "申込内容の確認",
    confirm_hint: "「送信」を押すまで申込は送られません。",
    submit: "送信",
    edit: "修正する",
    fix_errors: "下記の項目を修正してください。",
    applied_title: "申込を受け付けました",
    applied_body: "主催者が確認します。承認されるとチケットがメールで届きます。",
    my_applications: "申込履歴",
    status: "状態",
    status_pending: "審査中",
    status_approved: "承認済み",
    status_rejected: "却下",
    status_cancelled: "取消",
    reason: "理由",
    no_applications: "まだ申込はありません。",
    choose_form: "申し込むイベントを選んでください",
    no_form: "現在このフォームで申込を受け付けているイベントはありません。",
    error_title: "エラーが発生しました",
    back_home: "イベント一覧へ戻る",
    form_expired: "このフォームは期限切れか、このサイトから送信されたものではありません。もう一度お試しください。",
    sign_in_to_apply: "申し込むにはログインまたはアカウント作成をしてください。",
    submitted_at: "申込日時",
    skip_to_content: "本文へスキップ",
    language: "言語",
    no_tickets: "チケットはまだありません。",
    seat: "座席",
    qr_for: "QRコード：",
    code: "コード",
    printable: "印刷用チケット (PDF)",
    resend: "メールを再送",
    resent: "チケットをメールで再送しました。",
    my_tickets: "マイチケット",
    dashboard: "ダッシュボード",
    door: "入場受付",
    analytics: "参加者統計",
    users: "ユーザー",
    tickets_sold: "販売枚数",
    revenue: "売上",
    your_events: "イベント一覧",
    fill_rate: "充足率",
    revenue_by_category: "カテゴリ別売上",
    category: "カテゴリ",
    show: "表示",
    inside_now: "現在の入場者",
    sales_over_time: "販売の推移",
    day: "日付",
    checkins_per_hour: "時間帯・ゲート別入場数",
    hour: "時間帯 (UTC)",
    gate: "ゲート",
    entries: "入場数",
    pending: "審査待ち",
    export: "チケット一覧をダウンロード (CSV)",
    public_page: "公開ページ",
    applications: "申込",
    no_pending: "審査待ちの申込はありません。",
    select: "選択",
    answers: "回答",
    approve_selected: "選択した申込を承認",
    reject_selected: "選択した申込を却下",
    send_tickets: "チケット一括送信",
    send_all: "送信済みも含める",
    door_staff: "入場スタッフ",
    add_staff: "追加",
    back: "戻る",
    role: "役割",
    all_roles: "すべての役割",
    disabled: "無効",
    organizers_only: "このページは主催者と管理者のみ利用できます。",
    decided: "処理しました",
    staff_added: "スタッフを追加しました",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_choice_beats_the_browser() {
        assert_eq!(choose(Some("ja"), Some("en"), Some("en")), Lang::Ja);
        assert_eq!(choose(None, Some("ja"), Some("en-US")), Lang::Ja);
        assert_eq!(choose(Some("xx"), None, Some("ja")), Lang::Ja, "an unknown choice is ignored");
    }

    #[test]
    fn accept_language_by_quality() {
        assert_eq!(choose(None, None, Some("ja-JP,ja;q=0.9,en;q=0.8")), Lang::Ja);
        assert_eq!(choose(None, None, Some("fr-FR, en;q=0.5, ja;q=0.4")), Lang::En);
        assert_eq!(choose(None, None, Some("en;q=0.3, ja;q=0.7")), Lang::Ja);
        assert_eq!(choose(None, None, Some("de, fr")), Lang::En, "neither: English");
        assert_eq!(choose(None, None, Some("ja;q=0")), Lang::En, "q=0 means not wanted");
        assert_eq!(choose(None, None, None), Lang::En);
    }
}
