//! The entities under short names, for `use entity::prelude::*`.

pub use super::address_failure::Entity as AddressFailure;
pub use super::auth_event::Entity as AuthEvent;
pub use super::login_failure::Entity as LoginFailure;
pub use super::refresh_retirement::Entity as RefreshRetirement;
pub use super::revoked_token::Entity as RevokedToken;
pub use super::session::Entity as Session;
pub use super::user::Entity as User;
pub use super::user_permission::Entity as UserPermission;
pub use super::user_role::Entity as UserRole;
